"""Plain request/response values passed between the HTTP handler and the route functions."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"  # no charset parameter, as Salesforce sends it (decode as UTF-8)
XML_TYPE = "text/xml;charset=UTF-8"


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    params: dict[str, str]
    headers: Message
    body: bytes
    kind: str = "other"
    version: str | None = None
    job_id: str | None = None
    parts: list[str] = field(default_factory=list)  # path segments after /services/data/vXX.X/

    def json(self) -> object:
        """The body parsed as JSON (raises ValueError)."""
        return json.loads(self.body.decode("utf-8") or "null")


@dataclass
class Response:
    """A complete response."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    payload: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response."""
    return Response(
        status, json.dumps(payload, ensure_ascii=False).encode(), JSON_TYPE, headers or {}
    )


@dataclass
class CsvPage:
    """A results page to stream: its rows, how to render them, and the response headers."""

    headers: dict[str, str]
    header_line: str
    rows: Sequence[int]
    render: Callable[[Sequence[int], Mapping[int, Any]], str]
    overlay: Mapping[int, Any]
    line_ending: str
    job_id: str
