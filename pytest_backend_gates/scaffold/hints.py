"""What the HTTP gates will meet besides the app: credentials and operations that destroy them.

A service behind a login answers 401 to everything the gates send until they know who to act
as (SPEC section 6: `[tool.backend-gates.identities.NAME]`). The credentials themselves cannot be
found in the source, so the configuration gets a commented identity to fill in, with the login
operation where the source names it (FastAPI's `OAuth2PasswordBearer(tokenUrl=...)`), and the
logout operations, which revoke the gates' own token, as `exclude_operations` candidates.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_backend_gates.scaffold.project import Module, Project
from pytest_backend_gates.scaffold.resolve import Resolver, call_name, keyword
from pytest_backend_gates.scaffold.schemas import base_path_of, load_document

# imported module (prefix) -> what it says about the service's authentication
AUTH_IMPORTS: dict[str, str] = {
    "flask_jwt_extended": "flask-jwt-extended (bearer JWT)",
    "fastapi_users": "fastapi-users (bearer JWT)",
    "rest_framework.authtoken": "DRF token authentication (Authorization: Token <key>)",
    "rest_framework_simplejwt": "djangorestframework-simplejwt (bearer JWT)",
    "flask_login": "Flask-Login (session cookie)",
    "flask_httpauth": "Flask-HTTPAuth",
    "authlib": "Authlib",
}
# FastAPI/Starlette security dependencies -> what they expect
SECURITY_CLASSES = {"OAuth2PasswordBearer": "OAuth2 password flow", "BearerTransport": "OAuth2 password flow",
                    "HTTPBearer": "bearer token",
                    "HTTPBasic": "HTTP basic auth", "APIKeyHeader": "an API key header",
                    "APIKeyCookie": "an API key cookie", "APIKeyQuery": "an API key query parameter"}
_LOGOUT = re.compile(r"^/?[\w/{}.<>:-]*logout/?$")
_LOGIN = re.compile(r"^/?[\w/{}.<>:-]*(login|token)/?$")


@dataclass
class Hints:
    auth: list[str] = field(default_factory=list)  # "OAuth2 password flow (app/deps.py line 12)"
    token_url: str | None = None  # "/api/v1/login/access-token": OAuth2PasswordBearer's tokenUrl
    token_prefix: str = "Bearer "
    token_field: str = "access_token"  # where the login answer holds the token
    login_routes: list[str] = field(default_factory=list)  # route literals as written
    logout_routes: list[str] = field(default_factory=list)


def find_hints(project: Project, resolver: Resolver, drf_token: bool, scope: Callable[[Module], bool]) -> Hints:
    """Authentication, login and logout routes in the modules `scope` accepts (the app's own)."""
    hints = Hints()
    if drf_token:
        hints.auth.append(AUTH_IMPORTS["rest_framework.authtoken"])
        hints.token_prefix, hints.token_field = "Token ", "token"
    for module in project.modules.values():
        if project.is_test_file(module.path) or not scope(module):
            continue
        where = module.path.as_posix()
        for node in ast.walk(module.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    label = next((text for prefix, text in AUTH_IMPORTS.items()
                                  if name == prefix or name.startswith(prefix + ".")), None)
                    if label is not None and label not in hints.auth:
                        hints.auth.append(label)
                        if "Token <key>" in label:
                            hints.token_prefix, hints.token_field = "Token ", "token"
            elif isinstance(node, ast.Call) and call_name(node.func) in SECURITY_CLASSES:
                qualified = resolver.qualified(node.func, module) or ""
                if not qualified.startswith(("fastapi", "starlette", "fastapi_users")):
                    continue
                label = f"{SECURITY_CLASSES[call_name(node.func)]} ({where} line {node.lineno})"
                if label not in hints.auth:
                    hints.auth.append(label)
                token_url = resolver.string(keyword(node, "tokenUrl") or (node.args[0] if node.args else None),
                                            module)
                if token_url and hints.token_url is None:
                    hints.token_url = "/" + token_url.lstrip("/")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "/" in node.value:
                for pattern, routes in ((_LOGOUT, hints.logout_routes), (_LOGIN, hints.login_routes)):
                    if pattern.match(node.value) and node.value not in routes:
                        routes.append(node.value)
    return hints


def document_hints(hints: Hints, root: Path, document: Path) -> None:
    """What the app's OpenAPI file says: its security schemes, and login/logout paths as served
    (under the base path of `servers`), for a spec-first service (Connexion) with no decorators."""
    loaded = load_document(root / document)
    if not isinstance(loaded, dict):
        return
    schemes = loaded.get("components", {}).get("securitySchemes") if isinstance(loaded.get("components"), dict) \
        else loaded.get("securityDefinitions")
    if isinstance(schemes, dict) and schemes:
        described = ", ".join(f"{name} ({scheme.get('type', '?')}"
                              + (f" {scheme['scheme']}" if isinstance(scheme.get("scheme"), str) else "") + ")"
                              for name, scheme in schemes.items() if isinstance(scheme, dict))
        hints.auth.append(f"{document.as_posix()} declares the security schemes {described}")
        if any(isinstance(s, dict) and s.get("scheme") == "bearer" for s in schemes.values()):
            hints.token_prefix = "Bearer "
    base = base_path_of(loaded, root / document) or ""
    paths = loaded.get("paths")
    for path in paths if isinstance(paths, dict) else ():
        served = "/" + "/".join(part.strip("/") for part in (base, str(path)) if part.strip("/"))
        for pattern, routes in ((_LOGOUT, hints.logout_routes), (_LOGIN, hints.login_routes)):
            if pattern.match(served) and served not in routes:
                routes.insert(0, served)  # the document's paths are exact: before literals of the source
