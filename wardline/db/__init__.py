"""Database: schema, engine and migrations (SQLAlchemy 2 async; PostgreSQL or SQLite)."""
