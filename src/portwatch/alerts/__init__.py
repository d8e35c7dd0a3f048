"""What is sent to the clinic and how (alerts.md).

``payloads`` builds the alert and its signed-JSON body, ``fhir`` the FHIR R4 transaction
Bundle, ``signing`` the Standard Webhooks headers; all three are pure. ``delivery`` is the
edge: it sends outbox rows over HTTP with retries, on a Clock.
"""
