"""Storage: SQLAlchemy Core tables, the engine wrapper and Alembic migrations."""
