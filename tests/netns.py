"""Test hosts in network namespaces: a "master" namespace with a bridge, and worker namespaces,
each joined to that bridge by a veth pair, with an address of its own in a private range.

Everything lives inside namespaces made here and deleted after: the addresses exist nowhere
else, there is no route out of them, and the machine's own network is not touched (no device,
address or route is added outside these namespaces). Needs root and iproute2's `ip`;
`unavailable()` says why not, for a skip.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

SUBNET = "10.249.0"  # private; only ever inside the namespaces made here
_counter = itertools.count()


def ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


@cache
def unavailable() -> str | None:
    """Why network namespaces cannot be made here, or None: tried once, with a throwaway pair."""
    if os.name != "posix" or os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"bgt-probe-{os.getpid()}"
    try:
        ip("netns", "add", probe)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return f"this machine does not allow network namespaces: {exc}"
    try:
        ip("-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
        ip("-n", probe, "link", "add", "b0", "type", "bridge")
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return f"veth pairs or bridges cannot be made in a network namespace here: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=20)
    return None


@dataclass(frozen=True)
class Hosts:
    master: str  # namespace name
    master_address: str
    workers: tuple[tuple[str, str], ...]  # (namespace, address)

    @staticmethod
    def command(namespace: str, argv: Sequence[str]) -> list[str]:
        """`argv` run inside `namespace` (`ip netns exec` execs it: the process keeps its pid)."""
        return ["ip", "netns", "exec", namespace, *argv]


@contextmanager
def hosts(workers: int) -> Iterator[Hosts]:
    """A master namespace (bridge at SUBNET.1) and `workers` worker namespaces (SUBNET.2, .3, ...)."""
    tag = f"bgt{os.getpid()}x{next(_counter)}"
    master = f"{tag}m"
    made: list[str] = []
    try:
        ip("netns", "add", master)
        made.append(master)
        ip("-n", master, "link", "set", "lo", "up")
        ip("-n", master, "link", "add", "br0", "type", "bridge", "forward_delay", "0")
        ip("-n", master, "addr", "add", f"{SUBNET}.1/24", "dev", "br0")
        ip("-n", master, "link", "set", "br0", "up")
        pairs = []
        for number in range(2, workers + 2):
            namespace = f"{tag}w{number}"
            ip("netns", "add", namespace)
            made.append(namespace)
            ip("-n", namespace, "link", "set", "lo", "up")
            # Both ends made inside the master namespace, one then moved: never in the host's.
            ip("-n", master, "link", "add", f"veth{number}", "type", "veth", "peer", "name", "eth0",
               "netns", namespace)
            ip("-n", master, "link", "set", f"veth{number}", "master", "br0")
            ip("-n", master, "link", "set", f"veth{number}", "up")
            ip("-n", namespace, "addr", "add", f"{SUBNET}.{number}/24", "dev", "eth0")
            ip("-n", namespace, "link", "set", "eth0", "up")
            pairs.append((namespace, f"{SUBNET}.{number}"))
        yield Hosts(master, f"{SUBNET}.1", tuple(pairs))
    finally:
        for namespace in reversed(made):
            # The test stops what it started; a process left inside (a locust runner orphaned by a
            # killed pytest) was started by it too, and would keep the namespace's devices alive.
            for pid in subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True,
                                      timeout=20).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=20)


def exists(namespace: str) -> bool:
    return namespace in ip("netns", "list").split()
