"""Persistence: SQLAlchemy models, Alembic migrations and the `Store` facade (repos.py)."""
