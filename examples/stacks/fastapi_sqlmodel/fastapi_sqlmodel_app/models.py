"""Tables and API schemas (SQLModel: one class hierarchy for both, as in the full-stack template).

No `from __future__ import annotations` here: SQLModel reads relationship annotations at class creation.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

import email_validator
from pydantic import ConfigDict, EmailStr, Strict
from sqlmodel import Field, Relationship, SQLModel

from fastapi_sqlmodel_app.core.config import settings

# SQLite's INTEGER is 64-bit: a larger id can't be bound (OverflowError), so the API refuses it first.
MAX_ID = 2**63 - 1
# RFC 5321's limit, which email-validator enforces (the template's 255 let a 255-character address through the schema).
EMAIL_MAX_LENGTH = 254
# JSON booleans only: pydantic's lax mode would take 0, 1, "yes" or "off" for a bool, which the schema does not allow.
JsonBool = Annotated[bool, Strict()]

# Our e2e suite and API fuzzers sign up with addresses under `.test` (RFC 6761, reserved for testing);
# email-validator refuses special-use domains unless told otherwise (its documented way: this list).
if "test" in email_validator.SPECIAL_USE_DOMAIN_NAMES:
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("test")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """Fields of a partial update may be left out, but not sent as null: don't document `default: null`."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and "anyOf" not in prop:
            del prop["default"]


class PartialUpdate(SQLModel):
    """Base of PATCH bodies: every field optional; only the nullable ones accept null."""

    model_config = ConfigDict(json_schema_extra=_drop_null_defaults)  # type: ignore[assignment]


# --- users -----------------------------------------------------------------------------------


class UserBase(SQLModel):
    email: EmailStr = Field(unique=True, index=True, max_length=EMAIL_MAX_LENGTH)
    is_active: JsonBool = True
    is_superuser: JsonBool = False
    full_name: str | None = Field(default=None, max_length=255)


class UserCreate(UserBase):
    """Body of POST /users/ (superusers only)."""

    password: str = Field(min_length=8, max_length=128)


class UserRegister(SQLModel):
    """Body of POST /users/signup (anyone)."""

    email: EmailStr = Field(max_length=EMAIL_MAX_LENGTH)
    password: str = Field(min_length=8, max_length=128)
    full_name: str | None = Field(default=None, max_length=255)


class UserUpdate(PartialUpdate):
    """Body of PATCH /users/{user_id} (superusers only)."""

    email: EmailStr = Field(default=None, max_length=EMAIL_MAX_LENGTH)
    password: str = Field(default=None, min_length=8, max_length=128)
    full_name: str | None = Field(default=None, max_length=255)
    is_active: JsonBool = Field(default=None)
    is_superuser: JsonBool = Field(default=None)


class UserUpdateMe(PartialUpdate):
    full_name: str | None = Field(default=None, max_length=255)
    email: EmailStr = Field(default=None, max_length=EMAIL_MAX_LENGTH)


class UpdatePassword(SQLModel):
    current_password: str = Field(min_length=8, max_length=128)
    new_password: str = Field(min_length=8, max_length=128)


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    hashed_password: str
    created_at: datetime = Field(default_factory=utcnow)
    items: list["Item"] = Relationship(back_populates="owner", cascade_delete=True)


class UserPublic(UserBase):
    id: int


class UsersPublic(SQLModel):
    data: list[UserPublic]
    count: int


# --- tags ------------------------------------------------------------------------------------


class ItemTagLink(SQLModel, table=True):
    item_id: int | None = Field(default=None, foreign_key="item.id", primary_key=True, ondelete="CASCADE")
    tag_id: int | None = Field(default=None, foreign_key="tag.id", primary_key=True, ondelete="CASCADE")


class TagBase(SQLModel):
    name: str = Field(min_length=1, max_length=50, unique=True, index=True)
    description: str | None = Field(default=None, max_length=255)


class TagCreate(TagBase):
    pass


class TagUpdate(PartialUpdate):
    name: str = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=255)


class Tag(TagBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    items: list["Item"] = Relationship(back_populates="tags", link_model=ItemTagLink)


class TagPublic(TagBase):
    id: int


class TagsPublic(SQLModel):
    data: list[TagPublic]
    count: int


# --- items -----------------------------------------------------------------------------------


class ItemBase(SQLModel):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=255)


class ItemCreate(ItemBase):
    pass


class ItemUpdate(PartialUpdate):
    title: str = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=255)


if settings.DEFECTS:

    class ItemUpdate(PartialUpdate):  # type: ignore[no-redef]
        # DEFECT(null-into-not-null): `title: str | None` lets an explicit {"title": null} through to the NOT NULL column, so the UPDATE raises IntegrityError -> 500; fixed twin: `title: str`, optional but not nullable, so null is a 422
        title: str | None = Field(default=None, min_length=1, max_length=255)
        description: str | None = Field(default=None, max_length=255)


class Item(ItemBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", nullable=False, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    owner: User | None = Relationship(back_populates="items")
    tags: list["Tag"] = Relationship(back_populates="items", link_model=ItemTagLink)


class ItemPublic(ItemBase):
    id: int
    owner_id: int
    tags: list[TagPublic] = []


class ItemsPublic(SQLModel):
    data: list[ItemPublic]
    count: int


# --- auth and generic ------------------------------------------------------------------------


class Message(SQLModel):
    message: str


class ErrorDetail(SQLModel):
    detail: str


class NotFoundDetail(ErrorDetail):
    # Absent when no route matched at all (`/items/abc`): then Starlette's own 404 answers.
    resource: str | None = None
    id: int | None = None


class Token(SQLModel):
    access_token: str
    token_type: str = "bearer"


class TokenPayload(SQLModel):
    sub: str
    jti: str
    exp: int


class RevokedToken(SQLModel, table=True):
    """Logged-out tokens (by jti) until they expire."""

    jti: str = Field(primary_key=True, max_length=64)
    expires_at: datetime


class Health(SQLModel):
    status: str
