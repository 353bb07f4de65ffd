"""Open connections per client address, in one process: the count behind
HALLWAY_MAX_CONNECTIONS_PER_ADDRESS (hallway/api/http_edge.py keeps it)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class ConnectionCounts:
    """`cap` connections per address at most (0: no cap); addresses in `exempt` (a proxy in
    front carries many people's connections) are counted but never refused."""

    cap: int
    exempt: Sequence[Network] = ()
    _open: dict[str, int] = field(default_factory=dict)

    def admit(self, address: str | None) -> bool:
        """Count a new connection from `address`; False if it is one too many (it is
        counted either way: `release` it when it closes)."""
        if address is None:  # a Unix socket: no address to tell clients apart by
            return True
        count = self._open.get(address, 0) + 1
        self._open[address] = count
        # The exemption is looked up only past the cap, so most connections never parse
        # their address.
        return self.cap == 0 or count <= self.cap or self._is_exempt(address)

    def release(self, address: str | None) -> None:
        if address is None:
            return
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)

    def open_from(self, address: str) -> int:
        return self._open.get(address, 0)

    def _is_exempt(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.partition("%")[0])  # an IPv6 zone is no part
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # an IPv4 client of a socket bound to "::"
        return any(ip in network for network in self.exempt)
