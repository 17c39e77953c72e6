"""The security checks that need identities (issue 14, SPEC section 8): the authz probe (`bola`,
`bfla`) and the jwt probe (`jwt-none`, `jwt-expired`, `jwt-tampered`), end to end on the seeded
examples of examples/identities (authz_buggy/fixed: notes and a team directory; jwt_buggy/fixed:
a login answering HS256 JWTs). Each buggy twin is found, with messages naming both identities,
the operation and the created resource, and curl reproductions whose credentials are
placeholders; each fixed twin is clean whatever the seed; with one identity the authz probe says
why it did not run; a probe that could create nothing makes the gate `error`; bad values of the
new keys are one clear error; no password, token or jwt_key reaches the output, the JSON report
or a JUnit file (xdist included).

Each run is a subprocess: FastAPI, pydantic and annotated-types imported inside an in-process
pytester run were left half-replaced for later in-process runs of the same xdist worker (the
apps' /openapi.json answered 500, and Query(le=100) lost its bound in another test's schema)."""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import example_files, gate, read_report

SECRETS = {"ALICE_PW": "alice-pass-1234", "BOB_PW": "bob-pass-98765", "ADMIN_PW": "admin-password-1",
           "JWT_SECRET": "jwt-secret-for-tests-0123456789"}
NO_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:randomly")
GATES = "--backend-gates=contract,security"


def identity(name: str) -> str:
    env = f"{name.upper()}_PW"
    email = f"{name}@example.com"
    signup = "" if name == "admin" else \
        f'signup = {{ operation = "POST /auth/signup", json = {{ email = "{email}", password = "${{{env}}}" }} }}\n'
    role = 'role = "admin"\n' if name == "admin" else ""
    return (f"[tool.backend-gates.identities.{name}]\n{signup}login = {{ operation = \"POST /auth/token\", "
            f"form = {{ username = \"{email}\", password = \"${{{env}}}\" }} }}\n{role}")


AUTHZ = 'admin_only = ["DELETE /users/*"]\nshared = ["GET /users/{user_id}"]\n'
JWT = 'jwt_key = "${JWT_SECRET}"\n'


def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, module: str, names: tuple[str, ...],
            security: str = "", max_examples: int = 3) -> Path:
    """examples/identities with the contract gate on `module:app`, the identities `names` (alice
    the default) and `security` keys; the file every issued token is logged to."""
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    log = pytester.path / "tokens.log"
    monkeypatch.setenv("ACCOUNTS_TOKEN_LOG", str(log))
    table = ('identity = "alice"\n' if names else "") + \
        f'[tool.backend-gates.contract]\napp = "{module}:app"\nmax_examples = {max_examples}\nstateful = false\n' + \
        f"[tool.backend-gates.security]\n{security}\n" + "".join(identity(name) for name in names)
    example_files(pytester, "identities", table)
    return log


def security_of(pytester: pytest.Pytester) -> dict[str, Any]:
    return gate(read_report(pytester), "security")


def found(security: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [v for v in security["violations"] if v["check"] == rule]


def test_authz_buggy_twin_bola_and_bfla(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project(pytester, monkeypatch, "authz_buggy", ("alice", "bob", "admin"), AUTHZ)
    result = pytester.runpytest_subprocess(GATES, *NO_PLUGINS)
    assert result.ret == 1
    security = security_of(pytester)
    assert {v["check"] for v in security["violations"]} == {"bola", "bfla"}, security["violations"]
    [bola] = found(security, "bola")  # GET of a note; PATCH and DELETE check the owner; the directory is shared
    assert bola["where"] == "GET /notes/{note_id}"
    assert bola["message"].startswith("bob read a resource alice created: alice's POST /notes answered 201 with id ")
    assert "then bob's GET /notes/" in bola["message"] and "API1:2023" in bola["message"]
    create, access = bola["reproduce"].split("\n")
    assert create.startswith("curl -X POST") and "Bearer ${BACKEND_GATES_TOKEN_ALICE}" in create
    assert access.startswith("curl -X GET") and "Bearer ${BACKEND_GATES_TOKEN_BOB}" in access
    bfla = {v["message"].split(" ")[0]: v for v in found(security, "bfla")}
    assert set(bfla) == {"alice", "bob"}  # the admin may; both others were answered 204
    assert all(v["where"] == "DELETE /users/{user_id}" for v in bfla.values())
    assert "on the resource alice created with POST /users" in bfla["bob"]["message"]
    assert "API5:2023" in bfla["bob"]["message"]
    assert bfla["bob"]["reproduce"].split("\n")[1].startswith("curl -X DELETE")
    result.stdout.fnmatch_lines(["*GET /notes/{note_id} [[]bola[]]: bob read a resource alice created*",
                                 "    reproduce: curl -X POST *${BACKEND_GATES_TOKEN_ALICE}*/notes",
                                 "               curl -X GET *${BACKEND_GATES_TOKEN_BOB}*/notes/*"])


def test_per_rule_severity(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project(pytester, monkeypatch, "authz_buggy", ("alice", "bob", "admin"),
            AUTHZ + 'rules = { bola = "warn", bfla = "ignore" }\n')
    pytester.runpytest_subprocess(GATES, *NO_PLUGINS)
    security = security_of(pytester)
    assert security["status"] == "passed", security
    assert any("[bola]" in w and "bob read a resource alice created" in w for w in security["warnings"])
    assert not any("bfla" in w for w in security["warnings"]) and security["threshold"]["rules"]["bfla"] == "ignore"


def test_jwt_buggy_twin_none_and_expired(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    log = project(pytester, monkeypatch, "jwt_buggy", ("alice",), JWT)
    result = pytester.runpytest_subprocess(GATES, *NO_PLUGINS)
    assert result.ret == 1
    security = security_of(pytester)
    assert {v["check"] for v in security["violations"]} == {"jwt-none", "jwt-expired"}, security["violations"]
    [none] = found(security, "jwt-none")
    [expired] = found(security, "jwt-expired")
    assert none["where"] == expired["where"] == "GET /me"
    assert "alg 'none' and no signature, carrying the claims of alice's token, was answered 200" in none["message"]
    assert "the claims of alice's token with exp an hour in the past, signed with jwt_key (HS256)" \
        in expired["message"]
    for violation in (none, expired):
        assert violation["reproduce"].startswith("curl -X GET -H 'authorization: Bearer ey")
        assert "API2:2023" in violation["message"]
    header = json.loads(_b64(none["reproduce"].split("Bearer ")[1].split(".")[0]))
    assert header["alg"] == "none" and none["reproduce"].split("'")[1].endswith(".")  # no signature
    tokens = log.read_text().split()
    assert tokens and not any(t in result.stdout.str() or t in json.dumps(security) for t in tokens)


def test_without_jwt_key_expiry_is_not_checked_and_the_report_says_so(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project(pytester, monkeypatch, "jwt_buggy", ("alice",))
    pytester.runpytest_subprocess(GATES, *NO_PLUGINS)
    security = security_of(pytester)
    assert {v["check"] for v in security["violations"]} == {"jwt-none"}
    assert any(w.startswith("jwt: expiry was not checked (jwt-expired): set jwt_key") for w in security["warnings"])


TAMPERED_APP = '''
import base64, json
from _jwt import InvalidToken, create_app


def claims_of(token):
    # reads the claims and never looks at the signature
    try:
        return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    except Exception:
        raise InvalidToken("malformed") from None


app = create_app("accounts that trust any payload", claims_of)
'''


def test_a_payload_trusted_without_its_signature_is_jwt_tampered(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    log = project(pytester, monkeypatch, "jwt_unverified", ("alice",), JWT)
    pytester.makepyfile(jwt_unverified=TAMPERED_APP)
    result = pytester.runpytest_subprocess(GATES, *NO_PLUGINS)
    security = security_of(pytester)
    assert {v["check"] for v in security["violations"]} == {"jwt-none", "jwt-tampered", "jwt-expired"}
    [tampered] = found(security, "jwt-tampered")
    assert "Alice's token with its payload changed (claim 'backend_gates_probe' added) and its signature kept " \
           "was answered 200" in tampered["message"]
    # the forged token is shown, but the original signature it keeps is a placeholder
    assert tampered["reproduce"].endswith(".${BACKEND_GATES_TOKEN_ALICE##*.}' http://127.0.0.1:8000/me")
    signatures = [token.rsplit(".", 1)[1] for token in log.read_text().split()]
    assert signatures and not any(s in result.stdout.str() or s in json.dumps(security) for s in signatures)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("module, names, security", [
    ("authz_fixed", ("alice", "bob", "admin"), AUTHZ),
    ("jwt_fixed", ("alice",), JWT),
])
def test_fixed_twins_are_clean_whatever_the_seed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                 module: str, names: tuple[str, ...], security: str,
                                                 seed: int) -> None:
    project(pytester, monkeypatch, module, names, security, max_examples=2)
    result = pytester.runpytest_subprocess(GATES, f"--backend-gates-seed={seed}", *NO_PLUGINS)
    report = read_report(pytester)
    assert result.ret == 0, [(g["gate"], g["summary"], g["violations"]) for g in report["gates"]]
    probes = gate(report, "security")["measured"]["probes"]
    assert probes["authz" if module == "authz_fixed" else "jwt"]["outcome"] == "ran"


def test_with_one_identity_the_authz_probe_is_not_run_and_says_why(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project(pytester, monkeypatch, "authz_fixed", ("alice",), AUTHZ)
    result = pytester.runpytest_subprocess(GATES, "-rs", *NO_PLUGINS)
    security = security_of(pytester)
    assert security["status"] == "passed", security
    assert security["measured"]["probes"]["authz"]["outcome"] == "skipped"
    assert "the authz probe did not probe anything: it needs two or more identities, one to create a resource " \
           "and another that must be refused (defined: 'alice')" in "\n".join(security["warnings"])
    result.stdout.fnmatch_lines(["SKIPPED*it needs two or more identities*"])


def test_without_identities_the_identity_probes_are_left_out_and_the_report_says_why(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project(pytester, monkeypatch, "jwt_fixed", ())
    result = pytester.runpytest_subprocess(GATES, *NO_PLUGINS)
    measured = security_of(pytester)["measured"]
    assert "authz" not in measured["probes"] and "jwt" not in measured["probes"]
    assert measured["probes_not_run"] == {
        "authz": "it needs two or more identities ([tool.backend-gates.identities.NAME]); none is defined",
        "jwt": "no credentials to forge: no identity is defined and [tool.backend-gates.contract] headers carry no "
               "Authorization"}
    assert "security[probe authz]" not in result.stdout.str()


NOTHING_CREATED_APP = '''
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()


class Thing(BaseModel):
    name: str


@app.post("/things", status_code=201, responses={409: {"description": "the shelf is full"}})
def add(thing: Thing) -> dict:
    raise HTTPException(409, "the shelf is full")


@app.get("/things/{thing_id}", responses={404: {"description": "no such thing"}})
def read(thing_id: int) -> dict:
    raise HTTPException(404, "no such thing")
'''


def test_an_authz_probe_that_created_nothing_makes_the_gate_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(shelf=NOTHING_CREATED_APP)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        [tool.backend-gates]
        report = "gates.json"
        [tool.backend-gates.contract]
        app = "shelf:app"
        max_examples = 2
        [tool.backend-gates.identities.alice]
        headers = { X-User = "alice" }
        [tool.backend-gates.identities.bob]
        headers = { X-User = "bob" }
    """))
    result = pytester.runpytest_subprocess(GATES, *NO_PLUGINS)
    assert result.ret == 1
    security = security_of(pytester)
    assert security["status"] == "error", security
    problems = [security["summary"], *security["warnings"]]
    assert any("the authz probe tested nothing: no create operation answered 2xx with an id (POST /things; "
               "answers: 409 x" in problem for problem in problems), problems
    result.stdout.fnmatch_lines(["*security[[]probe authz[]]*the authz probe tested nothing*"])


@pytest.mark.parametrize("toml, message", [
    ('admin_only = "DELETE /users/*"', "*security[]] admin_only: 'DELETE /users/[*]' is not a list of strings*"),
    ('admin_only = ["users"]', "*security[]] admin_only: 'users' is not an operation glob; expected 'METHOD /path'*"),
    ("shared = [1]", "*security[]] shared: [[]1[]] is not a list of strings*"),
    ('jwt_key = ""', "*security[]] jwt_key: '' is empty; expected the service's HS256/384/512 secret*"),
    ('jwt_key = "keys/missing.pem"', "*security[]] jwt_key: 'keys/missing.pem' names a PEM file that cannot be "
                                     "read (No such file or directory: */keys/missing.pem)*"),
    ('jwt_key = "${NOPE_JWT}"', "*security[]] jwt_key: '${NOPE_JWT}' uses environment variable NOPE_JWT, which is "
                                "not set*"),
    ('rules = { bolla = "warn" }', "*security[]] rules.bolla: unknown rule; did you mean 'bola'?*"),
    ("admin_olny = []", "*security[]] admin_olny: unknown key; did you mean 'admin_only'?*"),
])
def test_bad_values_of_the_new_keys_are_one_clear_error(pytester: pytest.Pytester, toml: str, message: str) -> None:
    pytester.makepyprojecttoml(f"[tool.backend-gates.security]\n{toml}\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest_subprocess("--backend-gates", *NO_PLUGINS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_a_pem_file_without_a_private_key_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.backend-gates.security]\njwt_key = "public.pem"\n')
    (pytester.path / "public.pem").write_text("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n")
    result = pytester.runpytest_subprocess("--backend-gates", *NO_PLUGINS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*jwt_key: 'public.pem' names a file without a PEM private key*"])


@pytest.mark.parametrize("module, names, security", [
    ("authz_buggy", ("alice", "bob", "admin"), AUTHZ + 'jwt_key = "literal-jwt-key-in-pyproject"\n'),
    ("jwt_buggy", ("alice", "bob"), JWT),
])
def test_no_secret_in_output_report_or_junit_under_xdist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                         module: str, names: tuple[str, ...], security: str) -> None:
    log = project(pytester, monkeypatch, module, names, security)
    result = pytester.runpytest_subprocess(GATES, "-n", "2", "--junitxml=junit.xml", *NO_PLUGINS)
    assert result.ret == 1
    texts = {"output": result.stdout.str() + result.stderr.str(), "report": (pytester.path / "gates.json").read_text(),
             "junit": (pytester.path / "junit.xml").read_text()}
    tokens = log.read_text().split()
    secrets = [*SECRETS.values(), "literal-jwt-key-in-pyproject", *tokens,
               *(t.rsplit(".", 1)[1] for t in tokens if t.count(".") == 2)]
    assert tokens
    for where, text in texts.items():
        assert not [s for s in secrets if s in text], where
    assert security_of(pytester)["violations"]


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_forged_tokens_with_an_hs_secret_and_a_pem_key(tmp_path: Path) -> None:
    jwt = pytest.importorskip("jwt")
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    from pytest_backend_gates.gates.security import jwt_tokens as t

    now = 1_600_000_000  # any past moment: the forged tokens are judged by the real clock
    original = jwt.encode({"sub": "alice", "exp": now + 900}, "hs-secret-0123456789-0123456789-0123", algorithm="HS256")
    bearer = t.find_bearer({"X-Other": "x", "Authorization": f"Bearer {original}"})
    assert bearer is not None and bearer.prefix == "Bearer " and bearer.alg == "HS256"
    assert t.key_matches(bearer, "hs-secret-0123456789-0123456789-0123") is True and t.key_matches(bearer, "other") is False
    expired = t.sign(bearer.header, t.expired_claims(bearer.claims, now), "hs-secret-0123456789-0123456789-0123")
    with pytest.raises(jwt.ExpiredSignatureError):  # a valid signature, an expired token
        jwt.decode(expired, "hs-secret-0123456789-0123456789-0123", algorithms=["HS256"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(t.forge_tampered(bearer), "hs-secret-0123456789-0123456789-0123", algorithms=["HS256"])
    assert t.forge_none(bearer).endswith(".") and t.parse_jwt(t.forge_none(bearer))[0]["alg"] == "none"

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "service.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    rs = t.find_bearer({"Authorization": "Bearer " + jwt.encode({"sub": "alice", "exp": now + 900}, key,
                                                                 algorithm="RS256")})
    assert rs is not None and t.key_matches(rs, str(pem)) is None  # told by a request, not offline
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(t.sign(rs.header, t.expired_claims(rs.claims, now), str(pem)), key.public_key(),
                   algorithms=["RS256"])
    with pytest.raises(t.SigningError, match="needs a private key"):
        t.sign(rs.header, rs.claims, "hs-secret-0123456789-0123456789-0123")
    assert t.find_bearer({"Authorization": "Bearer opaque-token"}) is None
