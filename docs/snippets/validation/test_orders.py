from pagination import PaginationParams, page_window
from quantity import QUANTITY, parse_quantity


def test_quantity_parser(input_validation):
    input_validation.check(parse_quantity, accepts=QUANTITY, rejects=(ValueError,))


def test_pagination(input_validation):
    input_validation.check(page_window, accepts=PaginationParams)   # a pydantic model
