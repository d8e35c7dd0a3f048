"""The pinned thermometer: the one device whose readings count (``<state_dir>/pinned.json``).

``portwatch pair`` writes it; the link reads it. A reading from any other device is
ignored (fever-rule.md §1, "a device other than the one the patient's setup is pinned to").
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

__all__ = ["PIN_FILE", "Pin", "PinError", "load_pin", "save_pin"]

PIN_FILE: Final = "pinned.json"


class PinError(ValueError):
    """The pin file is missing or unreadable; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Pin:
    """The patient's thermometer: address, advertised name, driver, and what it said it is."""

    address: str
    name: str
    driver: str
    identity: dict[str, str] = field(default_factory=dict)  # Device Information, if read


def load_pin(state_dir: Path) -> Pin:
    """Read the pin file.

    Raises:
        PinError: no thermometer is pinned, or the file is not a pin.
    """
    path = state_dir / PIN_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PinError(f"{path}: no thermometer is pinned; run `portwatch pair`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise PinError(f"{path}: cannot read the pin file: {exc}") from exc
    try:
        identity = raw.get("identity") or {}
        return Pin(
            address=str(raw["address"]).upper(),
            name=str(raw.get("name", "")),
            driver=str(raw["driver"]),
            identity={str(k): str(v) for k, v in identity.items()},
        )
    except (KeyError, AttributeError, TypeError) as exc:
        raise PinError(f"{path}: not a pin file (needs address and driver): {exc}") from exc


def save_pin(state_dir: Path, pin: Pin) -> Path:
    """Write the pin file atomically (a crash leaves the old pin or the new one, never half)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / PIN_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(pin), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
