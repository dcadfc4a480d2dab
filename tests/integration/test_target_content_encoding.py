"""``interpret_content_encoding``: base16 / base64 strings stored as bytea, as MeltanoLabs does.

The base16 cases are those of MeltanoLabs target-postgres's own test file
(``base16_content_encoding_interpreted.singer``): an optional ``0x``, either case, an odd count
of digits read with a leading 0, the empty string as no bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.conftest import Db, TargetRun, jsonl, record, schema_message

PROPERTIES = {
    "id": {"type": "string"},
    "hex": {"type": ["string", "null"], "contentEncoding": "base16"},
    "b64": {"type": ["string", "null"], "contentEncoding": "base64"},
}
GOOD = [
    (
        "prefixed",
        "0xA1B2C3D4E5F607080910",
        "aGVsbG8=",
        bytes.fromhex("A1B2C3D4E5F607080910"),
        b"hello",
    ),
    ("empty_0x", "0x", "", b"", b""),
    ("empty", "", "AAEC/w==", b"", b"\x00\x01\x02\xff"),
    ("null", None, None, None, None),
    (
        "no_prefix_odd",
        "A1B2C3D4E5F6070809100102030405060",
        "QQ==",
        bytes.fromhex("0A1B2C3D4E5F6070809100102030405060"),
        b"A",
    ),
    ("odd_short", "A12", "", bytes.fromhex("0A12"), b""),
    ("lower_and_upper", "A12b", "+/8=", bytes.fromhex("A12B"), b"\xfb\xff"),
]
BAD = [
    ("spaces", " 0x1234 ", "aGVsbG8="),
    ("not_hex", "House", "aGVsbG8="),
    ("no_padding", "00", "aGVsbG8"),
    ("not_base64", "00", "not base64!"),
]


def messages() -> str:
    rows = [record("blobs", {"id": i, "hex": h, "b64": b}) for i, h, b, *_ in GOOD]
    rows += [record("blobs", {"id": i, "hex": h, "b64": b}) for i, h, b in BAD]
    return jsonl(schema_message("blobs", PROPERTIES, ["id"]), *rows)


def test_encoded_strings_are_stored_as_bytea_and_bad_ones_rejected(
    run: Callable[..., TargetRun], db: Db
) -> None:
    result = run(messages(), interpret_content_encoding=True)
    assert result.returncode == 0, result.stderr[-2000:]
    columns = db.columns("blobs")
    assert (columns["hex"], columns["b64"]) == ("bytea", "bytea")
    stored = {r["id"]: (r["hex"], r["b64"]) for r in db.select("id, hex, b64", "blobs")}
    expected = {i: (h, b) for i, _, _, h, b in GOOD}
    assert {
        i: tuple(None if v is None else bytes(v) for v in pair) for i, pair in stored.items()
    } == expected
    reasons = {
        r["raw_message"].split('"id": "')[1].split('"')[0]: r["reason"] for r in db.rejects()
    }
    assert set(reasons) == {i for i, *_ in BAD}
    assert "property 'hex': expected base16" in reasons["not_hex"]
    assert "property 'b64': expected base64" in reasons["not_base64"]


def test_without_the_setting_encoded_strings_stay_text_as_sent(
    run: Callable[..., TargetRun], db: Db
) -> None:
    result = run(messages())
    assert result.returncode == 0, result.stderr[-2000:]
    assert db.columns("blobs")["hex"] == "text"
    stored = {r["id"]: r["hex"] for r in db.select("id, hex", "blobs")}
    assert stored["not_hex"] == "House"
    assert stored["prefixed"] == "0xA1B2C3D4E5F607080910"


def test_setting_turned_on_later_keeps_the_text_column_and_checks_the_encoding(
    run: Callable[..., TargetRun], db: Db
) -> None:
    first = jsonl(
        schema_message("blobs", PROPERTIES, ["id"]), record("blobs", {"id": "a", "hex": "0xA1"})
    )
    assert run(first).returncode == 0
    second = jsonl(
        schema_message("blobs", PROPERTIES, ["id"]),
        record("blobs", {"id": "b", "hex": "0xB2"}),
        record("blobs", {"id": "c", "hex": "House"}),
    )
    assert run(second, interpret_content_encoding=True).returncode == 0
    assert db.columns("blobs")["hex"] == "text", "an existing column is never rewritten to bytea"
    assert {r["id"]: r["hex"] for r in db.select("id, hex", "blobs")} == {"a": "0xA1", "b": "0xB2"}
    (reject,) = db.rejects()
    assert reject["reason"].startswith("property 'hex': expected base16")
