"""Tasks: within a project of the current user, tagged with the user's labels."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ..db import Label, Project, Task, User
from ..errors import ResourceNotFound, responses
from ..schemas import Page, TaskCreate, TaskRead, TaskUpdate
from .common import CurrentUser, Limit, Offset, ProjectId, Session, TaskId

router = APIRouter(tags=["tasks"])


async def ensure_owned_project(session: AsyncSession, user: User, project_id: int) -> None:
    owned = await session.scalar(select(Project.id).where(Project.id == project_id, Project.owner_id == user.id))
    if owned is None:
        raise ResourceNotFound("project", project_id)


async def get_owned_task(session: AsyncSession, user: User, task_id: int) -> Task:
    task = await session.scalar(
        select(Task)
        .join(Task.project)
        .where(Task.id == task_id, Project.owner_id == user.id)
        .options(selectinload(Task.labels))
    )
    if task is None:
        raise ResourceNotFound("task", task_id)
    return task


async def owned_labels(session: AsyncSession, user: User, label_ids: Sequence[int]) -> list[Label]:
    wanted = list(dict.fromkeys(label_ids))
    if not wanted:
        return []
    labels = (
        await session.scalars(
            select(Label).where(Label.id.in_(wanted), Label.owner_id == user.id).order_by(Label.id)
        )
    ).all()
    unknown = sorted(set(wanted) - {label.id for label in labels})
    if unknown:  # a request naming labels that are not the caller's is invalid, like any other bad field
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "label_ids"), "msg": f"unknown label ids: {unknown}",
              "input": list(label_ids)}]
        )
    return list(labels)


@router.get("/projects/{project_id}/tasks", response_model=Page[TaskRead], responses=responses(401, 404))
async def list_tasks(
    project_id: ProjectId, session: Session, user: CurrentUser, done: bool | None = None,
    limit: Limit = 20, offset: Offset = 0,
) -> Page[TaskRead]:
    await ensure_owned_project(session, user, project_id)
    where = [Task.project_id == project_id] + ([Task.done == done] if done is not None else [])
    tasks = (
        await session.scalars(
            select(Task).where(*where).order_by(Task.id).limit(limit).offset(offset).options(selectinload(Task.labels))
        )
    ).all()
    total = await session.scalar(select(func.count()).select_from(Task).where(*where))
    return Page[TaskRead](
        items=[TaskRead.model_validate(t) for t in tasks], total=total or 0, limit=limit, offset=offset
    )


@router.post(
    "/projects/{project_id}/tasks", response_model=TaskRead, status_code=status.HTTP_201_CREATED,
    responses=responses(401, 404),
)
async def create_task(project_id: ProjectId, body: TaskCreate, session: Session, user: CurrentUser) -> TaskRead:
    await ensure_owned_project(session, user, project_id)
    labels = await owned_labels(session, user, body.label_ids)
    task = Task(project_id=project_id, labels=labels, **body.model_dump(exclude={"label_ids"}))
    session.add(task)
    await session.commit()
    return TaskRead.model_validate(task)


@router.get("/tasks/{task_id}", response_model=TaskRead, responses=responses(401, 404))
async def get_task(task_id: TaskId, session: Session, user: CurrentUser) -> TaskRead:
    return TaskRead.model_validate(await get_owned_task(session, user, task_id))


@router.patch("/tasks/{task_id}", response_model=TaskRead, responses=responses(401, 404))
async def update_task(task_id: TaskId, body: TaskUpdate, session: Session, user: CurrentUser) -> TaskRead:
    task = await get_owned_task(session, user, task_id)
    changes = body.model_dump(exclude_unset=True)
    if "label_ids" in changes:
        task.labels = await owned_labels(session, user, changes.pop("label_ids"))
    for field, value in changes.items():
        setattr(task, field, value)
    await session.commit()
    return TaskRead.model_validate(task)


@router.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(401, 404))
async def delete_task(task_id: TaskId, session: Session, user: CurrentUser) -> Response:
    owned = select(Task.id).join(Task.project).where(Task.id == task_id, Project.owner_id == user.id)
    result = await session.execute(delete(Task).where(Task.id.in_(owned)))
    await session.commit()
    if result.rowcount == 0:
        raise ResourceNotFound("task", task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
