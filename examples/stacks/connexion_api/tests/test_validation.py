"""Property-based input validation of the API's write operations (validation gate)."""

from __future__ import annotations


def test_create_owner_validates_its_input(input_validation):
    input_validation.check_endpoint("POST /owners")


def test_update_pet_validates_its_input(input_validation):
    """Catches the null-into-not-null defect (and broken-404) on the buggy twin (STACK_DEFECTS=1)."""
    input_validation.check_endpoint("PATCH /pets/{pet_id}")
