"""A second host on this machine: a Linux network namespace joined to the host by a veth
pair, whose link can be cut and restored. Root only (the tests and `make chaos` run as root)."""

import os
import random
import subprocess
import uuid
from contextlib import contextmanager
from dataclasses import dataclass


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@dataclass
class SecondHost:
    name: str
    link: str  # the host's end of the veth pair
    host_ip: str  # bind servers both hosts must reach here
    inside_ip: str

    @property
    def run_inside(self) -> list[str]:
        """Prefix that runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def cut(self) -> None:
        """The link goes down: packets either way are dropped, open connections hang, new
        ones fail."""
        ip("link", "set", self.link, "down")

    def restore(self) -> None:
        ip("link", "set", self.link, "up")


@contextmanager
def second_host():
    if os.geteuid() != 0:
        raise PermissionError("a second host needs a network namespace: run as root")
    tag = uuid.uuid4().hex[:8]
    subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
    host = SecondHost(f"harvest-{tag}", f"vh{tag}", f"{subnet}.1", f"{subnet}.2")
    inside = f"vn{tag}"
    ip("netns", "add", host.name)
    try:
        ip("link", "add", host.link, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", host.name)
        ip("addr", "add", f"{host.host_ip}/30", "dev", host.link)
        ip("link", "set", host.link, "up")
        for command in (["addr", "add", f"{host.inside_ip}/30", "dev", inside], ["link", "set", inside, "up"],
                        ["link", "set", "lo", "up"]):
            ip("netns", "exec", host.name, "ip", *command)
        yield host
    finally:
        subprocess.run(["ip", "link", "del", host.link], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", host.name], capture_output=True, timeout=20)
