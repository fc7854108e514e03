"""Alembic migrations of the store; HEAD names the newest revision so start-up can skip Alembic."""

HEAD = "raw1"
