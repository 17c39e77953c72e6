"""Task tracker on fastapi-users: JWT auth, projects, tasks and labels (async SQLAlchemy + aiosqlite)."""
