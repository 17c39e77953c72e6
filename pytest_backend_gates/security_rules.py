"""The one table of security rules: id, OWASP API Security Top 10 (2023) category, and how each is
found. Everything else derives from it: the ids `[tool.backend-gates.security] rules` accepts,
the order findings are reported in, the rules each probe provokes, the rules judged app-wide, and
the rules `check_endpoint` applies to the answers of one operation.

It sits below the gates (configuration validates rule ids against it), like ruff's one table of
rule codes.
"""

from __future__ import annotations

from dataclasses import dataclass

_MISCONFIGURATION = "API8:2023 Security Misconfiguration"
_PROPERTY_AUTHORIZATION = "API3:2023 Broken Object Property Level Authorization"
_AUTHENTICATION = "API2:2023 Broken Authentication"


@dataclass(frozen=True)
class SecurityRule:
    id: str
    owasp: str
    rank: int  # report order: the most severe first
    # What sees it: "response" (a rule judging any answer), or the active probe provoking it.
    probes: tuple[str, ...] = ()
    app_wide: bool = False  # caused by the app's configuration: one finding for the whole app
    input_driven: bool = False  # provoked by the request's input: check_endpoint judges it too


# In the order the configuration lists them (error messages, documentation).
RULES: tuple[SecurityRule, ...] = (
    SecurityRule("leak-traceback", _MISCONFIGURATION, 10, probes=("injection",), app_wide=True, input_driven=True),
    SecurityRule("leak-sql-error", _MISCONFIGURATION, 11, probes=("injection",), input_driven=True),
    SecurityRule("leak-debug-page", _MISCONFIGURATION, 12, probes=("injection",), app_wide=True, input_driven=True),
    SecurityRule("server-banner", _MISCONFIGURATION, 13, app_wide=True),
    SecurityRule("header-missing", _MISCONFIGURATION, 14, app_wide=True),
    SecurityRule("sensitive-field", _PROPERTY_AUTHORIZATION, 15),
    SecurityRule("xss-reflected", _MISCONFIGURATION, 6, probes=("injection",), input_driven=True),
    SecurityRule("sqli-error", _MISCONFIGURATION, 5, probes=("injection",), input_driven=True),
    SecurityRule("rate-limit", "API4:2023 Unrestricted Resource Consumption", 9, probes=("rate-limit",)),
    SecurityRule("auth-ignored", _AUTHENTICATION, 7, probes=("auth",)),
    SecurityRule("cors", _MISCONFIGURATION, 17, probes=("cors",), app_wide=True),
    SecurityRule("cookie-flags", _MISCONFIGURATION, 16, app_wide=True),
    SecurityRule("mass-assignment", _PROPERTY_AUTHORIZATION, 8, probes=("mass-assignment",)),
    # With identities (SPEC sections 6 and 8): one identity's resource reached by another, an
    # admin_only operation answering a non-admin, a forged bearer JWT accepted.
    SecurityRule("bola", "API1:2023 Broken Object Level Authorization", 0, probes=("authz",)),
    SecurityRule("bfla", "API5:2023 Broken Function Level Authorization", 1, probes=("authz",)),
    SecurityRule("jwt-none", _AUTHENTICATION, 2, probes=("jwt",), app_wide=True),
    SecurityRule("jwt-expired", _AUTHENTICATION, 3, probes=("jwt",), app_wide=True),
    SecurityRule("jwt-tampered", _AUTHENTICATION, 4, probes=("jwt",), app_wide=True),
)

RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in RULES)
BY_ID: dict[str, SecurityRule] = {rule.id: rule for rule in RULES}
OWASP: dict[str, str] = {rule.id: rule.owasp for rule in RULES}
REPORT_ORDER: tuple[str, ...] = tuple(rule.id for rule in sorted(RULES, key=lambda rule: rule.rank))
APP_WIDE_RULES: tuple[str, ...] = tuple(rule.id for rule in RULES if rule.app_wide)
INPUT_RULES: tuple[str, ...] = tuple(rule.id for rule in RULES if rule.input_driven)


def probe_rules(probe: str) -> tuple[str, ...]:
    """The rules an active probe is there to provoke (its item fails on new findings of them)."""
    return tuple(rule.id for rule in RULES if probe in rule.probes)
