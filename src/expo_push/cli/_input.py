"""Messages for ``expo-push send`` and ``enqueue``: from flags, or from JSON Lines, a JSON array, CSV or a token list.

Every problem is an ``InputError`` naming the file, the line and, where known, the field: text that is not
UTF-8, a line that is not JSON, a CSV row with more cells than the header has columns, an invalid message,
and input with no messages at all.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from .._errors import ValidationError
from .._message import MAX_JSON_DEPTH, unknown_fields
from .._validation import prepare_message

__all__ = [
    "FORMATS",
    "InputError",
    "InputMessage",
    "Source",
    "checked",
    "json_value",
    "parse_json_object",
    "read_messages",
    "unknown_field_warnings",
]

FORMATS = ("jsonl", "json", "csv", "tokens")
_BY_SUFFIX = {".csv": "csv", ".txt": "tokens", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_TOKEN_PREFIXES = ("ExponentPushToken[", "ExpoPushToken[")


class InputError(Exception):
    """The input cannot be messages; ``str()`` names the file, the line and, where known, the field."""


class InputMessage(NamedTuple):
    """One message read: where it was (``"line 3"``, ``"the flags"``), its fields, and its outbox key if any."""

    where: str
    message: dict[str, Any]
    key: str | None = None


@dataclass(frozen=True)
class Source:
    """Where the messages come from: a file path or ``-`` (standard input), and its format.

    The format is the one given, else the file name's (``.csv``; ``.txt`` is a
    token list; ``.jsonl``, ``.ndjson`` are JSON Lines), else what the first
    line looks like: ``[`` starts a JSON array of messages, ``{`` JSON Lines,
    an Expo push token a token list, a line with a comma a CSV header.
    """

    path: str
    format: str | None = None

    @property
    def name(self) -> str:
        """The source as messages name it."""
        return "standard input" if self.path == "-" else self.path

    def given_format(self) -> str | None:
        """The format named, or the one the file name implies; ``None`` when the content must tell."""
        if self.format:
            return self.format
        if self.path == "-":
            return None
        return _BY_SUFFIX.get(Path(self.path).suffix.lower())


def _decoded(raw: Iterable[bytes | str], name: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, each checked to be UTF-8 (a byte-order mark at the start is dropped)."""
    for number, line in enumerate(raw, 1):
        if isinstance(line, bytes):
            try:
                text = line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{name} line {number}: not UTF-8 text (byte 0x{line[exc.start]:02x} at column {exc.start + 1}); "
                    "save it as UTF-8"
                ) from None
        else:
            text = line.removeprefix("\ufeff") if number == 1 else line
        yield number, text


def _sniffed(lines: Iterator[tuple[int, str]], name: str) -> tuple[str, Iterator[tuple[int, str]]]:
    """The format the first non-blank line shows, and all the lines again."""
    head: list[tuple[int, str]] = []
    for number, text in lines:
        head.append((number, text))
        first = text.strip()
        if not first:
            continue
        if first.startswith("["):
            kind = "json"
        elif first.startswith("{"):
            kind = "jsonl"
        elif first.startswith(_TOKEN_PREFIXES):
            kind = "tokens"
        elif "," in first:
            kind = "csv"
        else:
            raise InputError(
                f"{name} line {number}: cannot tell the format from {first[:40]!r}; give --format jsonl, csv or tokens"
            )
        return kind, itertools.chain(head, lines)
    return "jsonl", iter(head)


def _rows(kind: str, lines: Iterator[tuple[int, str]], name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, raw message fields) for each non-empty line or row."""
    if kind == "csv":
        yield from _csv_rows(lines, name)
    elif kind == "tokens":
        for number, text in lines:
            token = text.strip()
            if not token:
                continue
            if token.startswith("{"):
                raise InputError(f"{name} line {number}: a JSON object in a token list; give --format jsonl")
            yield number, {"to": token}
    elif kind == "jsonl":
        for number, text in lines:
            if not text.strip():
                continue
            hint = "" if text.lstrip().startswith("{") else " (for a list of tokens, give --format tokens)"
            value = json_value(text, f"{name} line {number}", hint)
            if not isinstance(value, dict):
                raise InputError(
                    f"{name} line {number}: expected a JSON object (one message), not {type(value).__name__}"
                )
            yield number, value
    elif kind == "json":
        yield from _array_items(lines, name)
    else:
        raise InputError(f"unknown input format {kind!r} (expected jsonl, json, csv or tokens)")


class _JsonText:
    """The text of a JSON array read a line at a time: only what the item being read needs is held."""

    def __init__(self, lines: Iterator[tuple[int, str]], name: str) -> None:
        self.text = ""
        self.at = 0
        self.line = 1
        """The line number of ``text[0]``."""
        self._lines = lines
        self._name = name

    def line_at(self, at: int) -> int:
        return self.line + self.text.count("\n", 0, at)

    def where(self, at: int) -> str:
        return f"{self._name} line {self.line_at(at)}"

    def more(self, wanted: int = 1) -> bool:
        """Read at least ``wanted`` more characters (or to the end); ``False`` at the end already."""
        self.line += self.text.count("\n", 0, self.at)
        self.text, self.at = self.text[self.at :], 0
        parts, size = [self.text], 0
        for _, part in self._lines:
            parts.append(part)
            size += len(part)
            if size >= wanted:
                break
        self.text = "".join(parts)
        return size > 0

    def next_char(self) -> str:
        """The next character that is not white space ("" at the end), not consumed."""
        while True:
            while self.at < len(self.text) and self.text[self.at] in " \t\r\n":
                self.at += 1
            if self.at < len(self.text) or not self.more():
                return self.text[self.at : self.at + 1]

    def value(self, decoder: json.JSONDecoder) -> tuple[int, Any]:
        """The line where the JSON value here starts, and the value; what is incomplete is read further, doubling."""
        wanted = 4096
        while True:
            start = self.at
            try:
                value, self.at = decoder.raw_decode(self.text, start)
                return self.line_at(start), value
            except RecursionError:
                raise InputError(f"{self.where(start)}: JSON nested too deeply to read") from None
            except json.JSONDecodeError as exc:
                # Lines are whole, so a value cut short fails only at the end of what is read.
                if self.text[exc.pos :].strip() or not self.more(wanted):
                    raise InputError(f"{self.where(exc.pos)}: not valid JSON ({exc.msg})") from None
                wanted *= 2


def _array_items(lines: Iterator[tuple[int, str]], name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each message of a JSON array, read as it comes (a large file is never held whole)."""
    text, decoder = _JsonText(lines, name), json.JSONDecoder()
    if text.next_char() != "[":
        raise InputError(f"{text.where(text.at)}: expected a JSON array of messages ([{{...}}, ...])")
    text.at += 1
    if text.next_char() == "]":
        text.at += 1
    else:
        while True:
            text.next_char()
            number, value = text.value(decoder)
            if not isinstance(value, dict):
                kind = type(value).__name__
                raise InputError(f"{name} line {number}: expected a JSON object (one message), not {kind}")
            yield number, value
            after = text.next_char()
            text.at += 1
            if after == "]":
                break
            if after != ",":
                raise InputError(f"{text.where(text.at - 1)}: expected ',' or ']' after a message in the array")
    if text.next_char():
        raise InputError(f"{text.where(text.at)}: more after the end of the JSON array")


def _csv_rows(lines: Iterator[tuple[int, str]], name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    current = [0]

    def texts() -> Iterator[str]:
        for number, text in lines:
            current[0] = number
            yield text

    try:
        yield from _csv_messages(csv.reader(texts()), current, name)
    except csv.Error as exc:  # a cell over csv's limit of 131,072 characters, a NUL byte, ...
        raise InputError(f"{name} line {current[0]}: not a CSV row this can read ({exc})") from None


def _csv_messages(
    reader: Iterator[list[str]], current: list[int], name: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    if header is None:
        return
    columns = [column.strip() for column in header]
    if not ({"to", "token"} & set(columns)):
        raise InputError(f"{name} line {current[0]}: a CSV file needs a header row with a 'to' (or 'token') column")
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            raise InputError(
                f"{name} line {current[0]}: {len(row)} cells but the header has {len(columns)} columns "
                "(quote cells that hold commas)"
            )
        fields: dict[str, Any] = {}
        for column, value in zip(columns, row, strict=False):
            if value == "":
                continue
            fields["to" if column == "token" else column] = _csv_value(column, value, f"{name} line {current[0]}")
        yield current[0], fields


_CSV_JSON_FIELDS = frozenset({"data", "sound", "richContent", "badge", "ttl", "expiration", "mutableContent"})


def _csv_value(key: str, value: str, where: str) -> Any:
    """CSV cells are text; fields that hold JSON values (data, badge, ...) are parsed as JSON."""
    if key not in _CSV_JSON_FIELDS:
        return value
    if key == "sound":
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
    return json_value(value, f"{where}, field {key!r}")


def read_messages(
    source: Source, template: dict[str, Any], stdin: IO[str], *, key_field: str | None = None, strict: bool = False
) -> list[InputMessage]:
    """Read and validate every message (``template`` fields first, each line's fields over them).

    ``key_field``: a field taken out of each line as its outbox key. ``strict``
    refuses fields the service does not know (else they are sent, and
    ``unknown_field_warnings`` tells of them). Raises
    ``InputError`` naming the line and field of the first bad one, or saying
    that there are none, before anything is sent.
    """
    if source.path == "-":
        raw: IO[Any] = getattr(stdin, "buffer", None) or stdin
        close = False
    else:
        try:
            raw = open(source.path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot read {source.path}: {exc.strerror}") from None
        close = True
    try:
        lines = _decoded(raw, source.name)
        kind = source.given_format()
        if kind is None:
            kind, lines = _sniffed(lines, source.name)
        messages = []
        for number, fields in _rows(kind, lines, source.name):
            where = f"{source.name} line {number}"
            key = None
            if key_field is not None and key_field in fields:
                key = fields.pop(key_field)
                if not isinstance(key, str) or not key:
                    raise InputError(f"{where}, field {key_field!r}: the key must be a non-empty string")
            messages.append(InputMessage(where, checked({**template, **fields}, where, strict=strict), key))
    finally:
        if close:
            raw.close()
    if not messages:
        raise InputError(f"no messages in {source.name}: nothing to send")
    return messages


def checked(message: dict[str, Any], where: str, *, strict: bool = False) -> dict[str, Any]:
    """``message`` if it is valid, else ``InputError`` saying ``where`` (a line, or the flags) and which field.

    A known field in another case or form (``channel_id``) is always refused; with ``strict``, so is any field
    the service does not know.
    """
    try:
        prepare_message(message, 0, strict=strict)
    except ValidationError as exc:
        field = f", field {exc.field!r}" if exc.field else ""
        raise InputError(f"{where}{field}: {exc.reason}") from None
    return message


def unknown_field_warnings(messages: Iterable[InputMessage]) -> list[str]:
    """One line per field the service does not know: how many messages have it, the first, and the nearest name.

    The service ignores such fields; they are sent unless ``--strict``.
    """
    found: dict[str, tuple[int, str, str | None]] = {}
    for entry in messages:
        for name, nearest in unknown_fields(entry.message).items():
            count, first, _ = found.get(name, (0, entry.where, nearest))
            found[name] = (count + 1, first, nearest)
    lines = []
    for name, (count, first, nearest) in found.items():
        hint = f" (did you mean {nearest!r}?)" if nearest else ""
        where = first if count == 1 else f"{count:,} messages, first {first}"
        lines.append(
            f"warning: {name!r} is not a field of a push message{hint}, in {where}; "
            "the service ignores it (--strict refuses it)"
        )
    return lines


def json_value(text: str, where: str, hint: str = "") -> Any:
    """The JSON value ``text`` holds, or ``InputError`` saying ``where``: not JSON, or nested too deep to read."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg}){hint}") from None
    except RecursionError:  # far deeper than a message may be: refused, not a traceback
        deepest = f"a message's data allows {MAX_JSON_DEPTH} levels"
        raise InputError(f"{where}: JSON nested too deeply to read ({deepest})") from None


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """A JSON object given on the command line, or ``InputError``."""
    value = json_value(text, what)
    if not isinstance(value, dict):
        raise InputError(f"{what}: expected a JSON object, not {type(value).__name__}")
    return value
