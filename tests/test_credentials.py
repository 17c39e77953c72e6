"""CredentialWatch: names the write after which the configured credentials stopped working,
and stays quiet when refusals are authorization, not lost credentials."""

from __future__ import annotations

from pytest_backend_gates.service.credentials import CredentialWatch

TOKEN = [("Authorization", "Bearer t")]


def feed(watch: CredentialWatch, *answers: tuple[str, int]) -> None:
    for operation, status in answers:
        method = operation.split()[0]
        watch.see(operation, method, status, TOKEN, lambda operation=operation: f"curl {operation}")


def test_a_revoking_write_is_named() -> None:
    watch = CredentialWatch({"Authorization": "Bearer t"})
    feed(watch, ("GET /items", 200), ("POST /items", 201), ("DELETE /users/{id}", 204),
         ("GET /items", 401), ("GET /orders", 401), ("POST /items", 401))
    warning = watch.warning()
    assert warning is not None and warning.startswith("credentials lost: after DELETE /users/{id} answered 2xx")
    assert "refused by 3 operations" in warning and "curl DELETE /users/{id}" in warning


def test_refusals_of_other_users_resources_are_not_lost_credentials() -> None:
    watch = CredentialWatch({"Authorization": "Bearer t"})
    feed(watch, ("GET /items/{id}", 200), ("PATCH /items/{id}", 200), ("GET /items/{id}", 403),
         ("GET /orders/{id}", 403), ("GET /items/{id}", 200))
    assert watch.warning() is None


def test_requests_without_the_credentials_and_single_refusals_say_nothing() -> None:
    watch = CredentialWatch({"Authorization": "Bearer t"})
    feed(watch, ("GET /items", 200), ("POST /logout", 204), ("GET /items", 401))
    watch.see("GET /orders", "GET", 401, [("Authorization", "Bearer forged")], lambda: None)
    assert watch.warning() is None  # one operation refused: not "everywhere"
    assert CredentialWatch({}).warning() is None


def test_a_public_operation_refusing_a_password_is_not_lost_credentials() -> None:
    """flask-smorest stack: POST /login (public) answered 401 to a wrong password after a write."""
    watch = CredentialWatch({"Authorization": "Bearer t"})
    for operation, status, public in [("POST /login", 200, True), ("POST /items", 201, False),
                                      ("POST /login", 401, True), ("POST /refresh", 401, False),
                                      ("GET /items", 200, False)]:
        watch.see(operation, operation.split()[0], status, TOKEN, lambda: None, requires_auth=not public)
    assert watch.warning() is None


def test_no_write_before_the_refusals_names_no_culprit() -> None:
    watch = CredentialWatch({"Authorization": "Bearer t"})
    feed(watch, ("GET /items", 200), ("GET /items", 401), ("GET /orders", 401))
    assert watch.warning() is None
