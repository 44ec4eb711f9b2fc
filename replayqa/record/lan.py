"""Who may use a recording proxy that listens beyond this machine.

A proxy on a LAN address is how a phone reaches it, and also how anyone else
on that network could send traffic through it and into the recording (and
read the control page). ``--allow-client CIDR`` limits it to the tester's
devices; without it the proxy is open, and the CLI says so.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from replayqa.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_client_ranges(values: Iterable[str]) -> tuple[Network, ...]:
    """``--allow-client`` values: CIDR ranges or single addresses."""
    ranges = []
    for value in values:
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            ranges.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"--allow-client {value!r} is not an address range: give one as CIDR, "
                "e.g. 192.168.1.0/24 or 192.168.1.23"
            ) from None
    return tuple(ranges)


def listen_addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses ``host`` stands for ("0" and "0.0.0.0" are every interface)."""
    try:
        return [_plain(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        raise ConfigError(
            f"--listen host {host!r} is not an address of this machine: give an IP address, "
            "e.g. 127.0.0.1:8888 or 192.168.1.10:8080"
        ) from None
    return [_plain(ipaddress.ip_address(str(info[4][0]).split("%")[0])) for info in infos]


def is_loopback(host: str) -> bool:
    return all(address.is_loopback for address in listen_addresses(host))


@dataclass(frozen=True)
class ClientRanges:
    """The clients a proxy serves: loopback always (the tester's own machine), plus the ranges."""

    ranges: tuple[Network, ...] = ()

    @property
    def limited(self) -> bool:
        return bool(self.ranges)

    def allows(self, peer: str) -> bool:
        if not self.ranges:
            return True
        try:
            address = _plain(ipaddress.ip_address(peer.split("%")[0]))
        except ValueError:
            return False
        return address.is_loopback or any(address in network for network in self.ranges)


def exposure_warning(host: str, port: int, clients: ClientRanges) -> str | None:
    """One line naming who can reach a proxy on a non-loopback address; None on loopback."""
    if is_loopback(host):
        return None
    where = f"{host}:{port}"
    if any(address.is_unspecified for address in listen_addresses(host)):
        where += " (every network interface)"
    if clients.limited:
        allowed = ", ".join(str(network) for network in clients.ranges)
        return (
            f"warning: the proxy on {where} is reachable from the network; "
            f"it serves only clients in {allowed} and this machine"
        )
    return (
        f"warning: open proxy on {where}: anyone on this network can send traffic "
        "through it into the recording and mark sessions; limit it with --allow-client CIDR"
    )


def _plain(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IPv4 client seen on a dual-stack socket (::ffff:a.b.c.d) is that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
