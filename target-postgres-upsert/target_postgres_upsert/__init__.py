"""Singer target that upserts any Singer stream into PostgreSQL (COPY + INSERT ... ON CONFLICT)."""
