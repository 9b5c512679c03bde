"""Messages for ``expo-push send``: from flags, or one per line of a JSON Lines, CSV or token-list file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .._errors import ValidationError
from .._message import prepare_message

__all__ = ["InputError", "Source", "checked", "parse_json_object", "read_messages"]


class InputError(Exception):
    """A line of the input cannot be a message; ``str()`` names the line and, where known, the field."""


@dataclass(frozen=True)
class Source:
    """Where the messages come from: a file path or ``-`` (standard input), and its format."""

    path: str
    format: str | None = None  # "jsonl", "csv", "tokens"; None: from the file name, JSON Lines for stdin

    def resolved_format(self) -> str:
        """The format named, or the one the file name implies."""
        if self.format:
            return self.format
        suffix = Path(self.path).suffix.lower()
        return {".csv": "csv", ".txt": "tokens"}.get(suffix, "jsonl")


def _rows(source: Source, stream: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, raw message fields) for each non-empty line or row."""
    kind = source.resolved_format()
    if kind == "csv":
        reader = csv.DictReader(stream)
        if not reader.fieldnames or not ({"to", "token"} & set(reader.fieldnames)):
            raise InputError("line 1: a CSV file needs a header row with a 'to' (or 'token') column")
        for row in reader:
            fields: dict[str, Any] = {}
            for key, value in row.items():
                if key is None or value in (None, ""):
                    continue
                fields["to" if key == "token" else key] = _csv_value(key, value, reader.line_num)
            yield reader.line_num, fields
    elif kind == "tokens":
        for number, line in enumerate(stream, 1):
            if line.strip():
                yield number, {"to": line.strip()}
    elif kind == "jsonl":
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"line {number}: not valid JSON ({exc.msg})") from None
            if not isinstance(value, dict):
                raise InputError(f"line {number}: expected a JSON object (one message), not {type(value).__name__}")
            yield number, value
    else:
        raise InputError(f"unknown input format {kind!r} (expected jsonl, csv or tokens)")


_CSV_JSON_FIELDS = frozenset({"data", "sound", "richContent", "badge", "ttl", "expiration", "mutableContent"})


def _csv_value(key: str, value: str, line: int) -> Any:
    """CSV cells are text; fields that hold JSON values (data, badge, ...) are parsed as JSON."""
    if key not in _CSV_JSON_FIELDS:
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        if key == "sound":
            return value
        raise InputError(f"line {line}: field {key!r}: not valid JSON: {value!r}") from None


def read_messages(source: Source, template: dict[str, Any], stdin: IO[str]) -> list[dict[str, Any]]:
    """Read and validate every message (``template`` fields first, each line's fields over them).

    Raises ``InputError`` naming the line and field of the first bad one, before anything is sent.
    """
    if source.path == "-":
        stream: IO[str] = stdin
        close = False
    else:
        try:
            stream = open(source.path, encoding="utf-8", newline="")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot read {source.path}: {exc.strerror}") from None
        close = True
    try:
        return [checked({**template, **fields}, f"line {number}") for number, fields in _rows(source, stream)]
    finally:
        if close:
            stream.close()


def checked(message: dict[str, Any], where: str) -> dict[str, Any]:
    """``message`` if it is valid, else ``InputError`` saying ``where`` (a line, or the flags) and which field."""
    try:
        prepare_message(message, 0)
    except ValidationError as exc:
        field = f", field {exc.field!r}" if exc.field else ""
        raise InputError(f"{where}{field}: {exc.reason}") from None
    return message


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """A JSON object given on the command line, or ``InputError``."""
    try:
        value = json.load(io.StringIO(text))
    except json.JSONDecodeError as exc:
        raise InputError(f"{what}: not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise InputError(f"{what}: expected a JSON object, not {type(value).__name__}")
    return value
