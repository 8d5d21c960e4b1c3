"""Alembic migrations for the schoolgate database (run by `schoolgate init`)."""
