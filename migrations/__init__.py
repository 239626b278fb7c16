"""Alembic migrations of the pymesync store (shipped as ``pymesync.store._migrations``)."""
