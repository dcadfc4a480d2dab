"""Errors that end a run, each with a one-line message that never carries a secret."""

from __future__ import annotations

from collections.abc import Iterable

from singer_sdk.exceptions import MissingKeyPropertiesError, RecordsWithoutSchemaException

REDACTED = "***"


def redact(message: str, secrets: Iterable[str]) -> str:
    """``message`` with every secret replaced by ``***`` (longest first, so URLs go whole)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return message


def first_line(message: str) -> str:
    """The first non-empty line of a (libpq) error message, stripped."""
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return message.strip()


class TargetError(Exception):
    """A condition that ends the run with a one-line error after committing what came before."""


class InputLineError(TargetError):
    """The input is not a Singer message stream at ``line_number`` (bad JSON, unknown type...)."""

    def __init__(self, line_number: int, problem: str) -> None:
        """Say what is wrong with input line ``line_number`` (1-based)."""
        super().__init__(f"input line {line_number}: {problem}")
        self.line_number = line_number


class RecordBeforeSchemaError(InputLineError, RecordsWithoutSchemaException):
    """A RECORD (or ACTIVATE_VERSION) arrived for a stream that had no SCHEMA yet."""


class InvalidRecordError(TargetError):
    """A record failed its schema and ``on_invalid_record`` is ``fail``."""

    def __init__(self, stream: str, line_number: int | None, reason: str) -> None:
        """Name the stream, the input line (when known) and what is wrong."""
        where = f"input line {line_number}, " if line_number else ""
        super().__init__(f"{where}stream {stream!r}: invalid record: {reason}")


class MissingKeyError(InvalidRecordError, MissingKeyPropertiesError):
    """A record without a value for a key property, and ``on_invalid_record`` is ``fail``."""


class DatabaseError(TargetError):
    """PostgreSQL could not be reached, went away, or refused a statement that is not about data."""


class TerminationRequested(BaseException):
    """SIGTERM or SIGINT arrived; unwinds the read loop so the target can commit and stop.

    A ``BaseException`` like ``KeyboardInterrupt``, so no ``except Exception`` swallows it.
    """

    def __init__(self, signum: int) -> None:
        """Remember which signal asked us to stop."""
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum
