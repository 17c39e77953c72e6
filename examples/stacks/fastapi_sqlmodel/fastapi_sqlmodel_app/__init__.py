"""Items, tags and users behind OAuth2 password login: FastAPI + SQLModel, the full-stack template's shape."""

__version__ = "0.1.0"
