"""Standard Webhooks signatures (alerts.md, "Signed JSON"), via the ``standardwebhooks`` package.

Pure. The package's ``Webhook.sign`` computes ``v1,`` + base64 HMAC-SHA256 of
``id.timestamp.body``; we use it for both signing and checking. Its ``verify`` is not used
because it reads the system clock for the 5-minute tolerance, and the inbox must measure
that tolerance on the clock it is given; :func:`verify` does the same checks on a ``now``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

__all__ = [
    "TIMESTAMP_TOLERANCE",
    "SignatureError",
    "SignatureProblem",
    "parse_secret",
    "sign_headers",
    "verify",
]

# Standard Webhooks: receivers reject timestamps more than 5 minutes from their clock.
TIMESTAMP_TOLERANCE: Final = timedelta(minutes=5)
SECRET_PREFIX: Final = "whsec_"  # noqa: S105  (the format's prefix, not a secret)
# A key shorter than this is almost certainly a typo; Standard Webhooks asks for 24-64 bytes.
MIN_SECRET_BYTES: Final = 16


class SignatureProblem(StrEnum):
    """Why a request was refused; the inbox maps each to an HTTP status."""

    MALFORMED = "malformed"  # missing or unparsable headers
    EXPIRED = "expired"  # timestamp outside the tolerance
    FORGED = "forged"  # no signature matches


class SignatureError(ValueError):
    """A secret or a signed request is unusable; the message never contains the secret."""

    def __init__(self, problem: SignatureProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


def parse_secret(text: str) -> bytes:
    """The HMAC key in a ``whsec_<base64>`` secret (the prefix is optional).

    Raises:
        SignatureError: not base64, or too short to be a real key.
    """
    body = text.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(SignatureProblem.MALFORMED, "webhook secret is not base64") from exc
    if len(key) < MIN_SECRET_BYTES:
        raise SignatureError(
            SignatureProblem.MALFORMED,
            f"webhook secret decodes to {len(key)} bytes; at least {MIN_SECRET_BYTES} needed",
        )
    return key


def _signature(key: bytes, msg_id: str, timestamp: datetime, body: str) -> str:
    from standardwebhooks.webhooks import Webhook

    signature: str = Webhook(key).sign(msg_id=msg_id, timestamp=timestamp, data=body)
    return signature


def sign_headers(key: bytes, msg_id: str, body: str, now: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for sending ``body`` as ``msg_id`` at ``now``."""
    at = now.astimezone(UTC).replace(microsecond=0)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": _signature(key, msg_id, at, body),
    }


def verify(key: bytes, headers: Mapping[str, str], body: str, now: datetime) -> str:
    """Check a request's signature at ``now``; return its ``webhook-id``.

    Raises:
        SignatureError: with ``problem`` MALFORMED, EXPIRED or FORGED.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id", "")
    stamp = lower.get("webhook-timestamp", "")
    offered = lower.get("webhook-signature", "")
    if not (msg_id and stamp and offered):
        raise SignatureError(SignatureProblem.MALFORMED, "missing webhook-id/timestamp/signature")
    # isdigit() alone also passes "²" and other scripts' digits (issue 21): ASCII only.
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        raise SignatureError(SignatureProblem.MALFORMED, "webhook-timestamp is not Unix seconds")
    try:
        at = datetime.fromtimestamp(int(stamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        at = None  # beyond year 9999: no clock is there
    if at is None or abs(now.astimezone(UTC) - at) > TIMESTAMP_TOLERANCE:
        raise SignatureError(
            SignatureProblem.EXPIRED,
            f"webhook-timestamp {stamp} is over {TIMESTAMP_TOLERANCE} from the receiver's clock",
        )
    expected = _signature(key, msg_id, at, body).encode()
    for candidate in offered.split(" "):
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return msg_id
    raise SignatureError(SignatureProblem.FORGED, "no webhook-signature matches")
