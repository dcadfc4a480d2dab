"""Opening the connection: libpq parameters, UTC session, application name."""

from __future__ import annotations

import psycopg2
import psycopg2.extensions

from target_postgres_upsert.db.plans import ConnectionSettings

APPLICATION_NAME = "target-postgres-upsert"
CONNECT_TIMEOUT_SECONDS = 30
TEMP_BUFFERS = "128MB"  # a 10k-row stage of wide rows fits in memory instead of spilling


def connect(settings: ConnectionSettings) -> psycopg2.extensions.connection:
    """Open a connection in UTC, so naive timestamps mean UTC whatever the server default.

    ``application_name`` defaults to ``target-postgres-upsert`` unless the URL or the settings
    name one (handy to find the session in ``pg_stat_activity``).
    """
    url = settings.database_url or ""
    params = dict(settings.params)
    named = "application_name" in params
    if url and not named:
        try:
            named = "application_name" in psycopg2.extensions.parse_dsn(url)
        except psycopg2.ProgrammingError:
            named = False  # psycopg2.connect reports the bad URL below
    if not named:
        params["application_name"] = APPLICATION_NAME
    conn = psycopg2.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, **params)
    conn.set_client_encoding("UTF8")
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute("SELECT set_config('temp_buffers', %s, false)", (TEMP_BUFFERS,))
    conn.commit()
    return conn
