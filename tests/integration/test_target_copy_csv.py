"""The COPY CSV the target builds (db/copy_text.py) reads back exactly in a real PostgreSQL."""

from __future__ import annotations

import decimal
import io

import psycopg2.extensions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_postgres_upsert.db.copy_text import (
    CSV_ESCAPE,
    CSV_NULL,
    CSV_QUOTE,
    copy_payload,
    encode_row,
)

_TEXTS = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]),  # UTF-8 cannot carry lone surrogates
    max_size=40,
) | st.sampled_from(["\\u0000", "\\\\n", "null", "\\N", "\\.", '"', "", "\r\n", "a,b"])


def _copy_back(
    conn: psycopg2.extensions.connection, rows: list[tuple[str | None, decimal.Decimal | None]]
) -> list[tuple[str | None, decimal.Decimal | None]]:
    data, _ = copy_payload([encode_row(row) for row in rows])
    with conn.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE IF NOT EXISTS copied (t text, n numeric)")
        cur.execute("TRUNCATE copied")
        cur.copy_expert(
            cur.mogrify(
                "COPY copied FROM STDIN WITH (FORMAT csv, QUOTE %s, ESCAPE %s, NULL %s)",
                (CSV_QUOTE, CSV_ESCAPE, CSV_NULL),
            ).decode(),
            io.BytesIO(data),
        )
        cur.execute("SELECT t, n FROM copied")
        return list(cur.fetchall())


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.none() | _TEXTS, st.none() | st.decimals(min_value=-(10**30), max_value=10**30)
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_text_and_number_read_back_exactly_but_nul(
    pg_conn: psycopg2.extensions.connection,
    rows: list[tuple[str | None, decimal.Decimal | None]],
) -> None:
    expected = [(None if t is None else t.replace("\x00", ""), n) for t, n in rows]
    assert _copy_back(pg_conn, rows) == expected
