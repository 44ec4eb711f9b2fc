"""Who a proxy on a LAN address serves, and what it says about its exposure."""

from __future__ import annotations

import pytest

from replayqa.errors import ConfigError
from replayqa.record.lan import ClientRanges, exposure_warning, is_loopback, parse_client_ranges


def test_ranges_and_single_addresses_parse_and_bad_ones_name_the_fix():
    ranges = parse_client_ranges(["192.168.1.0/24", "10.0.0.7", "fd00::/64"])
    assert [str(r) for r in ranges] == ["192.168.1.0/24", "10.0.0.7/32", "fd00::/64"]
    with pytest.raises(
        ConfigError, match=r"--allow-client 'phone' is not an address range: give one as CIDR"
    ):
        parse_client_ranges(["phone"])


def test_only_allowed_clients_and_this_machine_are_served():
    clients = ClientRanges(parse_client_ranges(["192.168.1.0/24"]))
    assert clients.allows("192.168.1.23")
    assert clients.allows("::ffff:192.168.1.23"), "an IPv4 client on a dual-stack socket"
    assert clients.allows("127.0.0.1") and clients.allows("::1"), "the tester's own machine"
    assert not clients.allows("192.168.2.23")
    assert not clients.allows("garbage")
    assert ClientRanges().allows("203.0.113.9"), "no ranges: no limit (the CLI warns)"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_listens_quietly(host):
    assert is_loopback(host)
    assert exposure_warning(host, 8080, ClientRanges()) is None


def test_every_interface_without_ranges_is_an_open_proxy():
    warning = exposure_warning("0", 8080, ClientRanges())
    assert warning is not None and not is_loopback("0.0.0.0")
    assert warning.startswith("warning: open proxy on 0:8080 (every network interface):")
    assert "--allow-client CIDR" in warning


def test_with_ranges_the_warning_names_who_is_served():
    clients = ClientRanges(parse_client_ranges(["192.168.1.0/24"]))
    warning = exposure_warning("192.168.1.10", 8080, clients)
    assert warning == (
        "warning: the proxy on 192.168.1.10:8080 is reachable from the network; "
        "it serves only clients in 192.168.1.0/24 and this machine"
    )


def test_an_unknown_host_name_is_a_config_error():
    with pytest.raises(ConfigError, match="is not an address of this machine"):
        is_loopback("no-such-host.invalid")
