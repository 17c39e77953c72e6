from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from flask_store_app.schemas import TAG_NAME, validate_tag_name


def test_tag_names(input_validation: Any) -> None:
    input_validation.check(validate_tag_name, accepts=TAG_NAME, rejects=(ValidationError,))


def test_create_store_endpoint(input_validation: Any) -> None:
    input_validation.check_endpoint("POST /stores")
