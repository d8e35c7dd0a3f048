"""`portwatch demo`: portwatch on its embedded default, with no hardware and no settings."""

from __future__ import annotations

import argparse
import json

HELP = "show portwatch working on its embedded default (no hardware, no settings)"

# A Nordic test vector: 37.6 °C, finger, stamped 2012-12-05 11:50:27 (shared/vectors/hts.json).
SAMPLE_MEASUREMENT_HEX = "06B00E00FEDC070C050B321B04"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options yet


def run(args: argparse.Namespace) -> int:
    del args
    from portwatch import hts

    measurement = hts.decode_measurement(bytes.fromhex(SAMPLE_MEASUREMENT_HEX))
    print(f"decoded sample Temperature Measurement {SAMPLE_MEASUREMENT_HEX}:")
    print(json.dumps(hts.measurement_to_json(measurement), indent=2))
    return 0
