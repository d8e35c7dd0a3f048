"""What caregivers and the clinic see: charts, pages, the visit summary (issue 8).

The renderers (:mod:`.chart`, :mod:`.termchart`, :mod:`.pages`) are pure: plain data in
(:mod:`.view`), text out. :mod:`.source` reads the log to build that data, and
:mod:`.app` serves it over HTTP. Nothing here is imported by the CLI at start-up.
"""
