"""A "device" of the test's own: a network namespace joined to this machine by a veth pair.

The namespace gets ``.2`` of a private /30 and this machine ``.1``, as a phone
on the tester's Wi-Fi would see the laptop. Names and subnets are drawn per
test run so parallel runs on one machine do not collide; every link and
namespace is removed by ``remove``.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass


class NamespacesUnavailable(Exception):
    pass


@dataclass
class Device:
    namespace: str
    host_link: str
    host_address: str  # this machine's end of the veth pair
    address: str  # the device's own address

    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command inside the device (with this process's environment: PYTHONPATH and all)."""
        return subprocess.run(
            ["ip", "netns", "exec", self.namespace, *command], capture_output=True, text=True, timeout=timeout
        )


def add_device(index: int) -> Device:
    """A namespace with a veth pair to this machine; raises NamespacesUnavailable when there is no way."""
    if shutil.which("ip") is None:
        raise NamespacesUnavailable("the ip command (iproute2) is not installed")
    tag = f"{os.getpid() % 100000}{index}"
    subnet = f"10.{random.randint(64, 250)}.{random.randint(0, 255)}.{random.choice(range(0, 252, 4))}"
    base = subnet.rsplit(".", 1)
    first = int(base[1])
    device = Device(
        namespace=f"rqdev{tag}",
        host_link=f"rqh{tag}",
        host_address=f"{base[0]}.{first + 1}",
        address=f"{base[0]}.{first + 2}",
    )
    peer = f"rqd{tag}"
    try:
        _ip("netns", "add", device.namespace)
    except subprocess.CalledProcessError as exc:
        raise NamespacesUnavailable(f"ip netns add failed: {exc.stderr.strip()}") from None
    try:
        _ip("link", "add", device.host_link, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", device.namespace)
        _ip("addr", "add", f"{device.host_address}/30", "dev", device.host_link)
        _ip("link", "set", device.host_link, "up")
        inside = ("ip", "netns", "exec", device.namespace, "ip")
        _run(*inside, "addr", "add", f"{device.address}/30", "dev", peer)
        _run(*inside, "link", "set", peer, "up")
        _run(*inside, "link", "set", "lo", "up")
        _run(*inside, "route", "add", "default", "via", device.host_address)
    except subprocess.CalledProcessError as exc:
        remove(device)
        raise NamespacesUnavailable(f"setting up a veth pair failed: {exc.stderr.strip()}") from None
    return device


def remove(device: Device) -> None:
    """Deleting the namespace deletes its end of the pair, and with it ours; delete ours too in case."""
    subprocess.run(["ip", "link", "del", device.host_link], capture_output=True)
    subprocess.run(["ip", "netns", "del", device.namespace], capture_output=True)


def _ip(*args: str) -> None:
    _run("ip", *args)


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)
