"""portwatch: fever watch for a newly implanted infusion port, over Bluetooth LE."""

__version__ = "0.1.0"
