"""This gateway's identity as the clinic knows it: one per installation, never shared.

The hostname alone is not enough: every Raspberry Pi is "raspberrypi", and a clinic's
FHIR server merges Devices with one identifier into one (issue 18). systemd's
/etc/machine-id is unique per installation but is not to be published, so the identifier
is the hostname with a digest of the machine id and the patient: stable across restarts,
different for the next patient on the same Pi, and revealing neither.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Final

__all__ = ["MACHINE_ID", "gateway_id"]

MACHINE_ID: Final = Path("/etc/machine-id")
DIGEST_CHARS: Final = 12


def gateway_id(patient: str, *, machine_id: Path = MACHINE_ID, hostname: str | None = None) -> str:
    """'raspberrypi-3f9c0a1b2c4d': the hostname and a digest of (machine id, patient); the
    hostname alone when there is no machine id to read."""
    host = hostname if hostname is not None else socket.gethostname()
    try:
        machine = machine_id.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        machine = ""
    if not machine:
        return host
    digest = hashlib.sha256(f"portwatch-gateway\0{machine}\0{patient}".encode()).hexdigest()
    return f"{host}-{digest[:DIGEST_CHARS]}"
