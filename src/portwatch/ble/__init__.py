"""The Bluetooth side: thermometer codecs and drivers, the link, BlueZ pairing, the pin."""
