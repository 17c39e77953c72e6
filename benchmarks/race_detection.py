"""Detection rate of the race probes on the bundled races, and their fixed twins.

For each example of examples/race (bank withdraw, `len(items) + 1` ids, username
check-then-insert, the Flask wallet's withdraw over HTTP, and the PostgreSQL bank when
BACKEND_GATES_PG_DSN reaches a server), runs 50 probes with the default settings
(8 threads x 20 rounds, seeded line-level GIL hand-offs) on the buggy module and on its
fixed twin, and counts how often the race was found; then the same threads without
amplification (schedule "none": barrier only, default switch interval) as the baseline.
Targets: every race found in at least 49/50 probes, every twin clean in 50/50, a probe
under 2 s.

    .venv/bin/python benchmarks/race_detection.py [--probes 50]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "race"
sys.path.insert(0, str(EXAMPLES))
sys.path.insert(0, str(ROOT))

from pytest_backend_gates.race_probe import Race, RaceError  # noqa: E402

Check = Callable[[Race, Any], bool]  # runs one probe on the module; True when the race showed


def bank(race: Race, module: Any) -> bool:
    account = module.Account(balance=1_000_000)
    taken = race.run(account.withdraw, 10)
    return bool(account.balance != 1_000_000 - sum(taken))


def tickets(race: Race, module: Any) -> bool:
    ids = race.run(module.TicketStore().create, "printer on fire")
    return len(set(ids)) != len(ids)


def signup(race: Race, module: Any) -> bool:
    users = module.Users()
    outcomes = race.run(lambda: users.try_register(f"ann{race.round}"))  # a new name per round
    return any(round_outcomes.count(f"ann{r}") != 1 or users.count(f"ann{r}") != 1
               for r, round_outcomes in enumerate(outcomes.by_round, 1))


def wallet_http(race: Race, module: Any) -> bool:
    import httpx

    with httpx.Client(transport=httpx.WSGITransport(app=module.app), base_url="http://testserver") as api:
        account = api.post("/accounts", json={"owner": "ann", "balance": 1_000_000}).json()
        responses = race.run(api.post, f"/accounts/{account['id']}/withdraw", json={"amount": 10})
        paid = sum(10 for r in responses if r.status_code == 200)
        return bool(api.get(f"/accounts/{account['id']}").json()["balance"] != 1_000_000 - paid)


def bank_postgres(race: Race, module: Any) -> bool:
    bank = module.Bank(os.environ["BACKEND_GATES_PG_DSN"], balance=1_000_000)
    try:
        taken = race.run(bank.withdraw, 10)
        return bank.balance() != 1_000_000 - sum(taken)
    finally:
        bank.close()


def postgres_reachable() -> bool:
    dsn = os.environ.get("BACKEND_GATES_PG_DSN")
    if not dsn:
        return False
    try:
        import psycopg

        psycopg.connect(dsn, connect_timeout=3).close()
        return True
    except Exception:
        return False


EXAMPLES_TO_RUN: list[tuple[str, str, Check]] = [
    ("bank withdraw (read-check-write)", "bank", bank),
    ("ticket ids (len(items) + 1)", "tickets", tickets),
    ("username check-then-insert (SQLite)", "signup", signup),
    ("wallet withdraw over HTTP (Flask)", "wallet_flask", wallet_http),
]


def measure(check: Check, module: Any, probes: int, schedule: str) -> tuple[int, list[float]]:
    found, times = 0, []
    for seed in range(probes):
        race = Race(rootdir=EXAMPLES, seed=seed, schedule=schedule)  # type: ignore[arg-type]
        started = time.perf_counter()
        try:
            hit = check(race, module)
        except RaceError:
            hit = True
        times.append(time.perf_counter() - started)
        found += hit
    return found, times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=50)
    args = parser.parse_args()
    n = args.probes
    examples = list(EXAMPLES_TO_RUN)
    if postgres_reachable():
        examples.append(("bank withdraw on PostgreSQL", "bank_pg", bank_postgres))
    else:
        print("note: BACKEND_GATES_PG_DSN unset or unreachable: the PostgreSQL example is left out")
    print(f"{n} probes each, 8 threads x 20 rounds; 'found' = the race showed in that probe")
    print(f"{'example':40} {'variant':6} {'amplified':>10} {'baseline':>9} {'mean probe':>11} {'max probe':>10}")
    missed = []
    for title, stem, check in examples:
        for variant in ("buggy", "fixed"):
            module = importlib.import_module(f"{stem}_{variant}")
            found, times = measure(check, module, n, "stagger")
            baseline, _ = measure(check, module, n, "none")
            print(f"{title:40} {variant:6} {found:>7}/{n} {baseline:>6}/{n} {statistics.mean(times) * 1000:>9.0f}ms "
                  f"{max(times) * 1000:>8.0f}ms", flush=True)
            if variant == "buggy" and found < n - n // 50:
                missed.append(f"{title}: found in {found}/{n} (target >= {n - n // 50})")
            if variant == "fixed" and found:
                missed.append(f"{title} fixed twin: flagged in {found}/{n} (target 0)")
            if max(times) >= 2.0:
                missed.append(f"{title} {variant}: a probe took {max(times):.2f}s (target < 2 s)")
    print("targets met" if not missed else "targets MISSED:\n  " + "\n  ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
