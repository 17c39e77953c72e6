"""Projects: owned by the current user, each with its tasks."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ..db import Project, User
from ..errors import ResourceNotFound, responses
from ..schemas import Page, ProjectCreate, ProjectRead, ProjectUpdate, TaskSummary
from ..settings import settings
from .common import CurrentUser, Limit, Offset, ProjectId, Session

router = APIRouter(prefix="/projects", tags=["projects"])


async def project_out(project: Project) -> ProjectRead:
    tasks = await project.awaitable_attrs.tasks  # no query when the list was loaded with the project
    return ProjectRead(
        id=project.id,
        name=project.name,
        description=project.description,
        created_at=project.created_at,
        tasks=[TaskSummary.model_validate(task) for task in tasks],
    )


async def get_owned_project(session: AsyncSession, user: User, project_id: int) -> Project:
    project = await session.scalar(
        select(Project)
        .where(Project.id == project_id, Project.owner_id == user.id)
        .options(selectinload(Project.tasks))
    )
    if project is None:
        raise ResourceNotFound("project", project_id)
    return project


@router.get("", response_model=Page[ProjectRead], responses=responses(401))
async def list_projects(session: Session, user: CurrentUser, limit: Limit = 20, offset: Offset = 0) -> Page[ProjectRead]:
    query = select(Project).where(Project.owner_id == user.id).order_by(Project.id).limit(limit).offset(offset)
    # DEFECT(n-plus-one): in the buggy twin the page is loaded without its tasks, so project_out's `awaitable_attrs.tasks` runs one SELECT per project; fixed twin: `.options(selectinload(Project.tasks))` loads the tasks of the whole page in one more query.
    if not settings.defects:
        query = query.options(selectinload(Project.tasks))
    projects = (await session.scalars(query)).all()
    total = await session.scalar(select(func.count()).select_from(Project).where(Project.owner_id == user.id))
    return Page[ProjectRead](
        items=[await project_out(p) for p in projects], total=total or 0, limit=limit, offset=offset
    )


@router.post("", response_model=ProjectRead, status_code=status.HTTP_201_CREATED, responses=responses(401))
async def create_project(body: ProjectCreate, session: Session, user: CurrentUser) -> ProjectRead:
    project = Project(owner_id=user.id, name=body.name, description=body.description, tasks=[])
    session.add(project)
    await session.commit()
    return await project_out(project)


@router.get("/{project_id}", response_model=ProjectRead, responses=responses(401, 404))
async def get_project(project_id: ProjectId, session: Session, user: CurrentUser) -> ProjectRead:
    return await project_out(await get_owned_project(session, user, project_id))


@router.patch("/{project_id}", response_model=ProjectRead, responses=responses(401, 404))
async def update_project(project_id: ProjectId, body: ProjectUpdate, session: Session, user: CurrentUser) -> ProjectRead:
    project = await get_owned_project(session, user, project_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(project, field, value)
    await session.commit()
    return await project_out(project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(401, 404))
async def delete_project(project_id: ProjectId, session: Session, user: CurrentUser) -> Response:
    # One statement; the database cascades to the project's tasks and their label links.
    result = await session.execute(delete(Project).where(Project.id == project_id, Project.owner_id == user.id))
    await session.commit()
    if result.rowcount == 0:
        raise ResourceNotFound("project", project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
