"""SQLAlchemy tables, repositories, migrations, and the Redis key names."""
