"""REST routers under /api; deps.py holds the shared dependencies (container, store, user)."""
