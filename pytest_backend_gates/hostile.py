"""Hostile inputs: what an attacker types into a string field.

Fed to the contract gate's engine as a schemathesis dictionary when the security
gate is on (string values are drawn from it with some probability), and looked
for in responses by the security rules (`xss-reflected`, `sqli-error`).
"""

from __future__ import annotations

MARK = "bg7f3a"  # makes a reflected payload ours, not the page's own markup

# Quote-free ones first: a quote often breaks something else (SQL) before the HTML is built.
XSS = (
    f"<svg onload=alert({MARK})>",
    f"<img src=x onerror=alert({MARK})>",
    f"<script>alert('{MARK}')</script>",
    f"\"><img src=x onerror=alert('{MARK}')>",
)
SQL_INJECTION = (
    "' OR '1'='1",
    "x'",
    "1' --",
    "'; DROP TABLE users; --",
    "\" OR \"1\"=\"1",
    "1) OR (1=1",
)
PATH_TRAVERSAL = ("../../../../etc/passwd", "..\\..\\..\\windows\\win.ini")
TEMPLATE_INJECTION = ("{{7*7}}", "${7*7}", "<%= 7*7 %>")
ODD = ("a\x00b", "A" * 4096, "\u202eevil", "\ufeffbom", "😀" * 16)

ALL: tuple[str, ...] = XSS + SQL_INJECTION + PATH_TRAVERSAL + TEMPLATE_INJECTION + ODD
DICTIONARY = "backend_gates_hostile"
PROBABILITY = 0.25  # share of generated strings drawn from ALL
