"""The race examples under test. RACE_VARIANT=buggy (the seeded races) or fixed (the
twins, the default) picks the modules: `RACE_VARIANT=buggy pytest --backend-gates`."""

from __future__ import annotations

import importlib
import os

import pytest

VARIANT = os.environ.get("RACE_VARIANT", "fixed")
bank = importlib.import_module(f"bank_{VARIANT}")
tickets = importlib.import_module(f"tickets_{VARIANT}")
signup = importlib.import_module(f"signup_{VARIANT}")


# --8<-- [start:withdrawals]
def test_withdrawals_are_not_lost(race):
    account = bank.Account(balance=1_000_000)
    taken = race.run(account.withdraw, 10)
    race.assert_total(account.balance, [-amount for amount in taken], start=1_000_000, what="balance")
# --8<-- [end:withdrawals]


def test_ticket_ids_are_unique(race):
    store = tickets.TicketStore()
    ids = race.run(store.create, "printer on fire")
    race.assert_distinct(ids, what="ticket ids")


def test_a_username_is_registered_once(race):
    users = signup.Users()
    # Each round, every thread tries to take the same new name ("ann1", "ann2", ...).
    outcomes = race.run(lambda: users.try_register(f"ann{race.round}"))
    for round_number, round_outcomes in enumerate(outcomes.by_round, 1):
        name = f"ann{round_number}"
        assert round_outcomes.count(name) == 1, f"{round_outcomes.count(name)} sign-ups for {name!r} succeeded"
        assert users.count(name) == 1


# --8<-- [start:probe]
@pytest.mark.race_probe(threads=8, rounds=10)
def test_overdraft_is_refused():
    # The test body itself runs in 8 threads at once; a shared account per test module.
    account = SHARED_ACCOUNT
    try:
        account.withdraw(7)
    except bank.InsufficientFunds:
        pass
    withdrawn = -sum(account.history)
    assert withdrawn <= 100, f"{withdrawn} was paid out of an account that held 100"
# --8<-- [end:probe]


SHARED_ACCOUNT = bank.Account(balance=100)
