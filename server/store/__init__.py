"""Persistence: SQLAlchemy models, the database handle, Alembic migrations. Knows nothing of aiohttp."""
