"""The Pi's address on the home network, for the caregiver's phone link.

Found by asking the kernel which source address it would use to reach an address beyond
the local machine, with a UDP socket "connected" to it: connecting a datagram socket only
chooses a route and a source address, it sends nothing (no packet leaves the machine, so
this works offline and tells no one). The address asked about is 192.0.2.1, from TEST-NET-1
(RFC 5737, documentation only, never a real host): it has no route of its own, so the
kernel picks the default route's interface, which on a Pi at home is the home network.
Reading ``ip -j addr`` instead would list every interface (docker, VPN, link-local) and
leave the choice to a guess; the route is the kernel's own answer.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final

__all__ = ["lan_address"]

_PROBE: Final = ("192.0.2.1", 9)  # RFC 5737 TEST-NET-1; port 9 (discard), never sent to


def lan_address() -> str | None:
    """This machine's IPv4 address on the network of its default route, or None (no network,
    or only a public or loopback address, which a phone at home should not be sent to)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_PROBE)
            source = str(probe.getsockname()[0])
        except OSError:
            return None
    address = ipaddress.ip_address(source)
    if address.is_loopback or address.is_unspecified or not address.is_private:
        return None
    return source
