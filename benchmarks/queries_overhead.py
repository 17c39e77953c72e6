"""Overhead of the queries gate's statement capture on the statements themselves.

In one process, on an in-memory SQLite database with 1,000 rows, times N point
selects (`SELECT name FROM t WHERE id = ?`) three ways, interleaved, median of rounds:

  A  no hooks (the plain driver): the baseline;
  B  hooks installed but nothing counting: what every statement pays for the whole
     session under `--backend-gates` (sqlite3 trace callback / SQLAlchemy listener
     that find no window and return);
  C  inside a counting window (`query_counter` / `query_budget`): each statement is
     normalized, its origin looked up and kept.

Times are the process's CPU time (all its threads), not the wall clock: on a shared
machine the wall clock mostly measured the other jobs.

Once through plain sqlite3, once through a SQLAlchemy 2.x engine (Core, same
statement), and once through async SQLAlchemy on aiosqlite (a quarter as many
statements), where SQLAlchemy's listener and the sqlite3 hook both see each statement
and it is counted once. Prints the ratios B/A and C/A and the time added per statement.
Targets, as time added per statement because the baseline is the cheapest statement
there is (an in-memory point select takes a few microseconds; a real query over a
socket takes hundreds): idle hooks add under 1 us, counting adds under 10 us (a counted
window is a test that looks at its statements, not production traffic). An aiosqlite
statement costs ~100 us (it crosses to aiosqlite's thread and back) and is seen twice:
under 5 us idle, under 25 us counting.

    .venv/bin/python benchmarks/queries_overhead.py [--statements 20000] [--rounds 5] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from collections.abc import Callable

from _common import Run, add_options, quick_defaults

from pytest_backend_gates.gates.queries.capture import (
    counting,
    hold_hooks,
    release_hooks,
)
from pytest_backend_gates.gates.queries.statements import QueryLog


def sqlite_runner(statements: int) -> Callable[[], float]:
    def run() -> float:
        db = sqlite3.connect(":memory:")  # opened under the current hooks, as an app would
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"n{i}") for i in range(1000)])
        started = time.process_time()
        for i in range(statements):
            db.execute("SELECT name FROM t WHERE id = ?", (i % 1000,)).fetchone()
        elapsed = time.process_time() - started
        db.close()
        return elapsed
    return run


def sqlalchemy_runner(statements: int) -> Callable[[], float] | None:
    try:
        from sqlalchemy import create_engine, text
    except ImportError:
        return None
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        connection.execute(text("INSERT INTO t VALUES (:id, :name)"), [{"id": i, "name": f"n{i}"} for i in range(1000)])
    query = text("SELECT name FROM t WHERE id = :id")

    def run() -> float:
        with engine.connect() as connection:
            started = time.process_time()
            for i in range(statements):
                connection.execute(query, {"id": i % 1000}).fetchone()
            return time.process_time() - started
    return run


def async_sqlalchemy_runner(statements: int) -> Callable[[], float] | None:
    """Async SQLAlchemy on aiosqlite: each statement seen by SQLAlchemy's listener (in a greenlet)
    and again by the sqlite3 hook (in aiosqlite's thread), counted once (gates/queries/claims.py)."""
    try:
        import asyncio

        import aiosqlite  # noqa: F401
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine
    except ImportError:
        return None
    query = text("SELECT name FROM t WHERE id = :id")

    async def work() -> float:
        engine = create_async_engine("sqlite+aiosqlite://")  # its connection opened under the current hooks
        async with engine.connect() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
            await connection.execute(text("INSERT INTO t VALUES (:id, :name)"),
                                     [{"id": i, "name": f"n{i}"} for i in range(1000)])
            started = time.process_time()
            for i in range(statements):
                (await connection.execute(query, {"id": i % 1000})).fetchone()
            elapsed = time.process_time() - started
        await engine.dispose()
        return elapsed

    return lambda: asyncio.run(work())


def measure(run: Callable[[], float], rounds: int) -> tuple[float, float, float]:
    plain, held, counted = [], [], []
    run()  # warm-up
    for _ in range(rounds):
        plain.append(run())
        hold_hooks()
        try:
            held.append(run())
            log = QueryLog(project_root="/nonexistent-project")
            with counting(log):
                counted.append(run())
        finally:
            release_hooks()
    return statistics.median(plain), statistics.median(held), statistics.median(counted)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--statements", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    add_options(parser)
    args = parser.parse_args()
    quick_defaults(args, parser, statements=2000, rounds=2)
    run_ = Run("queries_overhead", "Query-instrumentation overhead", args, clock="process CPU time",
               statement="SELECT name FROM t WHERE id = ? (in-memory SQLite, 1,000 rows)")
    print(f"queries overhead: {args.statements} point selects, median of {args.rounds} rounds")
    rows: list[list[object]] = []
    status = 0
    # (name, runner, statements, targets in us added per statement: idle, counting). An async
    # statement costs ~100 us (it crosses to aiosqlite's thread and back) and is seen twice
    # (SQLAlchemy's listener, then the sqlite3 hook, which finds it claimed): its own targets.
    quarter = args.statements // 4
    runners = [("sqlite3", sqlite_runner(args.statements), args.statements, (1.0, 10.0)),
               ("sqlalchemy", sqlalchemy_runner(args.statements), args.statements, (1.0, 10.0)),
               ("aiosqlite", async_sqlalchemy_runner(quarter), quarter, (5.0, 25.0))]
    for name, run, statements, (idle_target, counting_target) in runners:
        if run is None:
            run_.line(f"{name}: not installed, skipped")
            continue
        a, b, c = measure(run, args.rounds)
        per = 1e6 / statements
        print(f"  {name:<10} plain {a * per:6.2f} us/stmt   hooks idle {b * per:6.2f} us/stmt   "
              f"counting {c * per:6.2f} us/stmt")
        idle, counted = (b - a) * per, (c - a) * per
        met = idle < idle_target and counted < counting_target
        print(f"  {name:<10} ratio idle/plain = {b / a:.2f}   counting/plain = {c / a:.2f}   added: idle "
              f"{idle:+.2f} us, counting {counted:+.2f} us per statement (targets < {idle_target:g}, "
              f"< {counting_target:g}): {'MET' if met else 'NOT MET'}")
        status = status or (0 if met else 1)
        run_.summary.append(f"{name}: added {idle:+.2f} us per statement with the hooks idle, {counted:+.2f} us counting "
                            f"(targets < {idle_target:g} us, < {counting_target:g} us): {'MET' if met else 'NOT MET'}")
        rows.append([name, statements, round(a * per, 2), round(b * per, 2), round(c * per, 2), round(b / a, 2),
                     round(c / a, 2), round(idle, 2), round(counted, 2), "MET" if met else "NOT MET"])
        run_.figures[name] = {"statements": statements, "plain_us": a * per, "idle_us": b * per, "counting_us": c * per,
                              "added_idle_us": idle, "added_counting_us": counted,
                              "targets_us": [idle_target, counting_target], "met": met}
    run_.table(f"CPU time per statement, median of {args.rounds} rounds (A plain, B hooks idle, C counting)",
               ["driver", "statements", "A us", "B us", "C us", "B/A", "C/A", "B-A us", "C-A us", "targets"], rows)
    run_.write()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
