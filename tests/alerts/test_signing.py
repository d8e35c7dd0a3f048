"""Standard Webhooks signing and checking on a given clock (alerts.md, "Signed JSON")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portwatch.alerts.signing import (
    SignatureError,
    SignatureProblem,
    parse_secret,
    sign_headers,
    verify,
)

from .conftest import TEST_SECRET_TEXT

SENT_AT = datetime.fromtimestamp(1614265330, UTC)


def test_signature_matches_published_vector_when_signed(secret_key: bytes) -> None:
    """The Standard Webhooks reference vector (svix/standardwebhooks test suite): interop."""
    headers = sign_headers(
        secret_key, "msg_p5jXN8AQM9LWM0D4loKWxJek", '{"test": 2432232314}', SENT_AT
    )
    assert headers["webhook-timestamp"] == "1614265330"
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_verify_returns_id_when_signature_and_time_are_good(secret_key: bytes) -> None:
    """The honest path: 4 minutes of clock skew is inside the 5-minute tolerance."""
    headers = sign_headers(secret_key, "a-1", "{}", SENT_AT)
    assert verify(secret_key, headers, "{}", SENT_AT + timedelta(minutes=4)) == "a-1"


def test_verify_refuses_as_forged_when_body_changed(secret_key: bytes) -> None:
    """A tampered body must not pass with a signature made for another."""
    headers = sign_headers(secret_key, "a-1", '{"x":1}', SENT_AT)
    with pytest.raises(SignatureError) as info:
        verify(secret_key, headers, '{"x":2}', SENT_AT)
    assert info.value.problem is SignatureProblem.FORGED


def test_verify_refuses_as_expired_when_older_than_five_minutes(secret_key: bytes) -> None:
    """A captured request replayed later is refused on its timestamp."""
    headers = sign_headers(secret_key, "a-1", "{}", SENT_AT)
    with pytest.raises(SignatureError) as info:
        verify(secret_key, headers, "{}", SENT_AT + timedelta(minutes=5, seconds=1))
    assert info.value.problem is SignatureProblem.EXPIRED


def test_verify_refuses_as_malformed_when_headers_missing(secret_key: bytes) -> None:
    """No headers at all is a client error, not a forgery."""
    with pytest.raises(SignatureError) as info:
        verify(secret_key, {}, "{}", SENT_AT)
    assert info.value.problem is SignatureProblem.MALFORMED


def test_parse_secret_error_hides_the_secret_when_too_short() -> None:
    """An error message must never carry the secret it complains about."""
    with pytest.raises(SignatureError) as info:
        parse_secret("whsec_c2hvcnQ=")
    assert "c2hvcnQ" not in str(info.value)


def test_parse_secret_accepts_prefix_when_present() -> None:
    """Secrets are pasted with or without their whsec_ prefix."""
    assert parse_secret(TEST_SECRET_TEXT) == parse_secret(TEST_SECRET_TEXT.removeprefix("whsec_"))
