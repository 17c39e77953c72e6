"""Dependencies and parameter types shared by the resource routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import User, get_async_session
from ..schemas import MAX_ID, MAX_PAGE
from ..users import current_active_user

Session = Annotated[AsyncSession, Depends(get_async_session)]
CurrentUser = Annotated[User, Depends(current_active_user)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip")]
ProjectId = Annotated[int, Path(ge=1, le=MAX_ID)]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID)]
LabelId = Annotated[int, Path(ge=1, le=MAX_ID)]
