from fastapi.testclient import TestClient

from inventory.main import app

client = TestClient(app)


def test_create_then_read():
    created = client.post("/items", json={"name": "lamp", "quantity": 3}).json()
    assert client.get(f"/items/{created['id']}").json() == created
    assert created in client.get("/items").json()


def test_unknown_item():
    assert client.get("/items/999999").status_code == 404


def test_bad_quantity():
    assert client.post("/items", json={"name": "lamp", "quantity": -1}).status_code == 422
