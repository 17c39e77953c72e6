"""Example inventory/shop service: FastAPI over SQLite."""

__version__ = "0.1.0"
