"""Alembic migrations, shipped as package data and run by `Store.migrate()`."""
