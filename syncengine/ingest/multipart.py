"""Splitting a ``multipart/form-data`` body (already read and size-checked) into parts."""

from __future__ import annotations

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from syncengine.ingest.problems import RequestProblem

__all__ = ["form_parts"]


def _bad(detail: str) -> RequestProblem:
    return RequestProblem(detail, kind="invalid-multipart", title="Invalid multipart body")


def form_parts(body: bytes, content_type: str) -> dict[str, bytes]:
    """The parts of ``body`` by field name (the first part of each name wins).

    Raises :class:`RequestProblem` (400) when the boundary is missing or the body
    is not valid multipart.
    """
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise _bad("the multipart Content-Type has no boundary parameter")
    parts: dict[str, bytes] = {}
    state: dict[str, object] = {}
    header_field: list[bytes] = []
    header_value: list[bytes] = []
    data: list[bytes] = []
    names: list[str] = []

    def on_part_begin() -> None:
        data.clear()
        names.clear()

    def on_header_field(buf: bytes, start: int, end: int) -> None:
        header_field.append(buf[start:end])

    def on_header_value(buf: bytes, start: int, end: int) -> None:
        header_value.append(buf[start:end])

    def on_header_end() -> None:
        if b"".join(header_field).strip().lower() == b"content-disposition":
            _, options = parse_options_header(b"".join(header_value))
            names.append(options.get(b"name", b"").decode("utf-8", "replace"))
        header_field.clear()
        header_value.clear()

    def on_part_data(buf: bytes, start: int, end: int) -> None:
        data.append(buf[start:end])

    def on_part_end() -> None:
        name = names[0] if names else ""
        parts.setdefault(name, b"".join(data))

    def on_end() -> None:
        state["ended"] = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise _bad(f"the multipart body cannot be read: {exc}") from exc
    if not state.get("ended") and not parts:
        raise _bad("the multipart body ends before its closing boundary")
    return parts
