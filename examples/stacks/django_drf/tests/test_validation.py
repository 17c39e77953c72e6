"""Property-based input validation (the validation gate).

POST /api/auth/login/ is the one operation anybody may call: whatever the body (missing
fields, wrong types, hostile strings), it must answer 200, 400 or 401, never 5xx, and never
leak internals.
"""


def test_login_validates_its_input(input_validation, seeded):
    input_validation.check_endpoint("POST /api/auth/login/")
