def test_withdrawals_are_not_lost(api, race):
    account = api.post("/accounts", json={"owner": "ann", "balance": 1_000_000}).json()
    responses = race.run(api.post, f"/accounts/{account['id']}/withdraw", json={"amount": 10})
    paid = [-10 for r in responses if r.status_code == 200]
    final = api.get(f"/accounts/{account['id']}").json()["balance"]
    race.assert_total(final, paid, start=1_000_000, what="balance")
