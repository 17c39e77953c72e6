"""The pytest side of race probes: the session's seed, the command that replays a test with it,
and the Race a test gets (the `race` fixture, the `race_probe` marker)."""

from __future__ import annotations

import os
import random
import shlex
from collections.abc import Callable
from typing import Any

import pytest

from pytest_backend_gates.gates.race.probe import Race
from pytest_backend_gates.gates.race.results import Probe

session_seed_key = pytest.StashKey[int]()
replay_key = pytest.StashKey[str]()  # on the item: how to replay its probes


def session_seed(config: pytest.Config) -> int:
    """--backend-gates-race-seed, else the xdist controller's seed, else a random one; printed on failure."""
    if session_seed_key not in config.stash:
        option = config.getoption("backend_gates_race_seed", None)
        workerinput = getattr(config, "workerinput", None) or {}
        if option is not None:
            seed = int(option)
        elif "backend_gates_race_seed" in workerinput:
            seed = int(workerinput["backend_gates_race_seed"])
        else:
            seed = random.SystemRandom().randrange(2**31)
        config.stash[session_seed_key] = seed
    return config.stash[session_seed_key]


def replay_command(config: pytest.Config, nodeid: str, seed: int, gated: bool) -> str:
    """A command that runs this test again with this seed, from where pytest was run: node ids
    are relative to the rootdir, a node id argument to the invocation directory."""
    flags = "--backend-gates " if gated else ""
    path, sep, rest = nodeid.partition("::")
    invocation_dir = config.invocation_params.dir
    if path and invocation_dir != config.rootpath:
        path = os.path.relpath(config.rootpath / path, invocation_dir).replace(os.sep, "/")
    target = path + sep + rest
    quoted = f'"{target}"' if not any(c in target for c in '"$`\\!') else shlex.quote(target)
    return f"pytest {flags}--backend-gates-race-seed={seed} {quoted}"


def race_for_item(item: pytest.Item, settings: Any, on_probe: Callable[[Probe], None] | None,
                  gated: bool) -> Race:
    """The Race a test gets (fixture or marker): defaults from [tool.backend-gates.race]."""
    config = item.config
    seed = session_seed(config)
    replay = replay_command(config, item.nodeid, seed, gated)
    item.stash[replay_key] = replay
    return Race(rootdir=config.rootpath, seed=seed,
                threads=getattr(settings, "threads", 8), rounds=getattr(settings, "rounds", 20),
                schedule=getattr(settings, "schedule", "stagger"), where=item.nodeid, replay=replay,
                on_probe=on_probe)
