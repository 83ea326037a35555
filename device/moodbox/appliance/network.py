"""Which MPD the service's unit lets it reach: this machine and the local network, never the internet.

systemd/moodbox.service and moodbox-library.service filter their IP traffic (IPAddressDeny=any,
IPAddressAllow=): the camera process has no business with the internet, but a camera Pi may steer the MPD of a moOde or
Volumio box on the LAN. The unit allows the private and link-local ranges rather than one address
written from the config, because `mpd.host` is usually an mDNS name (moode.local) whose address DHCP
changes. `moodbox check`, run by hand outside the unit, would reach an MPD the unit blocks: it says
so, with the drop-in that allows it.
"""

from __future__ import annotations

import ipaddress
import socket

UNIT_ALLOWS = "localhost link-local 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"  # the unit's IPAddressAllow=
_NETWORKS = [
    ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128", "169.254.0.0/16", "fe80::/10", *UNIT_ALLOWS.split()[2:])
]


def blocked_addresses(host: str, port: int) -> list[str]:
    """The addresses of `host` the unit's IP filter blocks; [] for a unix socket or a name that does not resolve."""
    if host.startswith("/"):
        return []
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []  # connecting fails anyway, and says so
    addresses = {str(info[4][0]) for info in infos}
    return sorted(a for a in addresses if not any(ipaddress.ip_address(a) in net for net in _NETWORKS))


def unit_fix(host: str, addresses: list[str]) -> str:
    """One line: what the unit blocks and the drop-in that allows it."""
    return (
        f"moodbox's units may only reach this machine and the local network, and mpd.host {host} is "
        f"{', '.join(addresses)}; allow it with a drop-in: sudo systemctl edit moodbox (and moodbox-library), "
        f"then add [Service] IPAddressAllow={' '.join(addresses)}"
    )
