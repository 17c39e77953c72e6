"""Request and response models (pydantic v2)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi_users import schemas
from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StrictBool

from .settings import settings

# Largest id (and offset) the API accepts: 2**53 - 1, the largest integer every JSON parser
# reads exactly; SQLite itself overflows past 2**63 - 1.
MAX_ID = 2**53 - 1
MAX_PAGE = 100
# At least one character that is not whitespace, spelled out (ECMA-262's \s and pydantic's
# Rust regex disagree on U+0085 and U+FEFF).
NOT_BLANK = r"[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"


def _whole_number(value: object) -> object:
    """JSON Schema counts 3.0 as an integer: read it as one (3.5, "3" and true stay invalid)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _iso_date_only(value: object) -> object:
    """A date comes as an ISO string; pydantic would also take a Unix timestamp number."""
    if not isinstance(value, (str, date)):
        raise ValueError("expected a date as a string, e.g. 2025-01-31")  # noqa: TRY004 (pydantic reports ValueError)
    return value


def _omit_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def not_null(**kwargs: Any) -> Any:
    """A field of an update that may be left out, but is not nullable when sent."""
    return Field(default=None, json_schema_extra=_omit_default, **kwargs)


def _strict_int(low: int, high: int) -> Any:
    # WHOLE_NUMBER last so that pydantic publishes the bounds as minimum/maximum.
    return Annotated[int, Field(ge=low, le=high, strict=True), BeforeValidator(_whole_number)]


ProjectName = Annotated[str, Field(min_length=1, max_length=100, pattern=NOT_BLANK, examples=["Website relaunch"])]
Description = Annotated[str, Field(max_length=2000)]
TaskTitle = Annotated[str, Field(min_length=1, max_length=200, pattern=NOT_BLANK, examples=["Write the spec"])]
Notes = Annotated[str, Field(max_length=5000)]
Priority = _strict_int(1, 5)
DueDate = Annotated[date, BeforeValidator(_iso_date_only)]
LabelName = Annotated[str, Field(min_length=1, max_length=50, pattern=NOT_BLANK, examples=["bug"])]
Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#d73a4a"])]
EntityId = _strict_int(1, MAX_ID)
LabelIds = Annotated[list[EntityId], Field(max_length=20)]

# --- users (fastapi-users) -----------------------------------------------------------------
Password = Annotated[str, Field(min_length=8, max_length=128)]


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    password: Password
    # Ignored at sign-up (safe=True), but a wrong type is still a wrong request.
    is_active: StrictBool | None = True
    is_superuser: StrictBool | None = False
    is_verified: StrictBool | None = False


class UserUpdate(schemas.BaseUserUpdate):
    # fastapi-users declares these `X | None = None`: an explicit null then reaches the NOT NULL
    # column (PATCH /users/me {"email": null} -> IntegrityError). Left out is fine, null is not.
    password: Password = not_null()
    email: EmailStr = not_null()
    is_active: StrictBool = not_null()
    is_superuser: StrictBool = not_null()
    is_verified: StrictBool = not_null()


# --- own resources ---------------------------------------------------------------------------
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class LabelCreate(Strict):
    name: LabelName
    color: Color = "#808080"


class LabelUpdate(Strict):
    name: LabelName = not_null()
    color: Color = not_null()


class LabelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    color: str


class TaskCreate(Strict):
    title: TaskTitle
    notes: Notes | None = None
    done: StrictBool = False
    priority: Priority = 3
    due_date: DueDate | None = None
    label_ids: LabelIds = []


class TaskUpdate(Strict):
    title: TaskTitle = not_null()
    notes: Notes | None = None
    done: StrictBool = not_null()
    priority: Priority = not_null()
    due_date: DueDate | None = None
    label_ids: LabelIds = not_null()


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    title: str
    notes: str | None
    done: bool
    priority: int
    due_date: date | None
    created_at: datetime
    labels: list[LabelRead]


class TaskSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    done: bool


class ProjectCreate(Strict):
    name: ProjectName
    description: Description | None = None


if settings.defects:
    # DEFECT(null-into-not-null): `name` is declared `ProjectName | None`, so an explicit JSON null passes validation and is written to the NOT NULL column project.name -> IntegrityError -> 500; fixed twin: `name` may be left out but is not nullable (null -> 422).
    class ProjectUpdate(Strict):
        name: ProjectName | None = None
        description: Description | None = None
else:
    class ProjectUpdate(Strict):
        name: ProjectName = not_null()
        description: Description | None = None


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    created_at: datetime
    tasks: list[TaskSummary]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class Health(BaseModel):
    status: Literal["ok"]


class ErrorDetail(BaseModel):
    detail: str
