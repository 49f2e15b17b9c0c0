from credit_common.alembic_env import run_migrations
from credit_objections.adapters.tables import metadata

run_migrations(metadata)
