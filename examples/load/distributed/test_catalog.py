"""The project's own tests: the load run goes before them (docs/load.md, "When it runs").
`api` is the plugin's client for the configured base_url."""


def test_search_finds_products(api) -> None:
    answer = api.get("/search", params={"q": "e"})
    assert answer.status_code == 200
    assert answer.json()["count"] > 0
