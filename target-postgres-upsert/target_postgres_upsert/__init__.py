"""Singer target that upserts any Singer stream into PostgreSQL (COPY + INSERT ... ON CONFLICT)."""

from target_postgres_upsert.startup import defer_unused_sdk_imports

# Before anything imports singer_sdk: the SDK's tap side, joblib and upath load only if used.
defer_unused_sdk_imports()
