"""Reading a request body within its size limit, decompressing gzip, deflate and brotli safely.

:class:`BodyReader` is fed the raw chunks as they arrive and stops as soon as
either the compressed or the decompressed size passes the limit, so neither a
huge upload nor a small decompression bomb is ever held in memory whole.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from functools import partial
from typing import Any

import brotli  # type: ignore[import-untyped]  # the binding ships no type information
import orjson

from syncengine.ingest.problems import RequestProblem
from syncengine.ingest.wire_text import repair_decoded, repair_strict

__all__ = [
    "MAX_GZIP_MEMBERS",
    "BodyReader",
    "decode_json",
    "invalid_json",
    "media_type",
    "too_large",
]

_CHUNK_OUT = 256 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
MAX_GZIP_MEMBERS = 1000  # each costs a decoder; real bodies have one or a few
# 19 digits in a row: an integer that may not fit 64 bits, which orjson reads as a float.
# Bytes are looked for with every digit made "0" and every other byte a space (three
# times faster than a regex search, which took longer than orjson's whole parse).
_LONG_DIGITS = b"0" * 19
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}")


def too_large(limit: int, what: str = "request body") -> RequestProblem:
    """The problem for a body over ``limit`` bytes."""
    return RequestProblem(
        f"the {what} is larger than {limit} bytes (after decompression): split it into "
        "smaller requests (the limit is ingest.max_request_bytes)",
        kind="body-too-large",
        title="Request body too large",
        status=413,
    )


def _bad_encoding(encoding: str, exc: Exception) -> RequestProblem:
    return RequestProblem(
        f"the body is not valid {encoding} data ({exc}): check Content-Encoding matches the body",
        kind="bad-content-encoding",
        title="Body cannot be decompressed",
    )


class _Inflater:
    """One zlib stream (gzip, zlib-wrapped or raw deflate) with bounded output.

    A gzip body may hold several members one after the other (RFC 1952 section 2.2,
    what ``cat a.gz b.gz`` and streaming compressors produce): each is inflated in
    turn, up to :data:`MAX_GZIP_MEMBERS`. Anything after the last member, or after
    a deflate stream, is refused rather than silently dropped.
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        # 47 = auto-detect gzip or zlib header; plain deflate may also be raw (-15).
        self._wbits = 31 if encoding == "gzip" else 47
        self._decoder = zlib.decompressobj(self._wbits)
        self._first = True
        self._pending = b""
        self._members = 1

    def _switch_to_raw(self, data: bytes) -> None:
        self._wbits = -15
        self._decoder = zlib.decompressobj(-15)
        self._pending = data

    def _next_member(self, data: bytes) -> bool:
        """Start the member ``data`` begins; False when too little of it has come to tell."""
        if self.encoding != "gzip":
            raise _bad_encoding(self.encoding, ValueError("data follows the end of the stream"))
        if len(data) < len(_GZIP_MAGIC):
            return False
        if not data.startswith(_GZIP_MAGIC):
            raise _bad_encoding(self.encoding, ValueError("data follows the last gzip member"))
        self._members += 1
        if self._members > MAX_GZIP_MEMBERS:
            raise _bad_encoding(
                self.encoding, ValueError(f"more than {MAX_GZIP_MEMBERS} gzip members")
            )
        self._decoder = zlib.decompressobj(self._wbits)
        return True

    def feed(self, data: bytes, emit: Callable[[bytes], None]) -> None:
        if self._first and self.encoding == "deflate":
            self._first = False
            if len(data) >= 2 and (data[0] * 256 + data[1]) % 31 != 0:
                self._switch_to_raw(b"")  # no zlib header: a raw deflate stream
        self._first = False
        data = self._pending + data
        self._pending = b""
        try:
            while data:
                if self._decoder.eof and not self._next_member(data):
                    self._pending = data
                    return
                out = self._decoder.decompress(data, _CHUNK_OUT)
                emit(out)
                decoder = self._decoder
                data = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
        except zlib.error as exc:
            raise _bad_encoding(self.encoding, exc) from exc

    def finish(self, emit: Callable[[bytes], None]) -> None:
        try:
            emit(self._decoder.flush())
        except zlib.error as exc:
            raise _bad_encoding(self.encoding, exc) from exc
        if self._pending:
            raise _bad_encoding(self.encoding, ValueError("data follows the last gzip member"))
        if not self._decoder.eof:
            raise _bad_encoding(self.encoding, ValueError("the stream ends early"))


class _Unbrotli:
    """One brotli stream (``Content-Encoding: br``, as sentry-sdk sends) with bounded output.

    ``brotli`` 1.2's ``output_buffer_limit`` stops each call at ``_CHUNK_OUT`` bytes,
    so a small bomb is cut off at the body limit like a gzip one.
    """

    encoding = "br"

    def __init__(self) -> None:
        self._decoder = brotli.Decompressor()

    def feed(self, data: bytes, emit: Callable[[bytes], None]) -> None:
        try:
            out: bytes = self._decoder.process(data, output_buffer_limit=_CHUNK_OUT)
            emit(out)
            while not self._decoder.can_accept_more_data():
                emit(self._decoder.process(b"", output_buffer_limit=_CHUNK_OUT))
        except brotli.error as exc:
            raise _bad_encoding(self.encoding, exc) from exc

    def finish(self, emit: Callable[[bytes], None]) -> None:
        if not self._decoder.is_finished():
            raise _bad_encoding(self.encoding, ValueError("the stream ends early"))


class BodyReader:
    """Collects a request body, decoding ``Content-Encoding`` and enforcing ``limit``.

    Raises :class:`RequestProblem` (413) as soon as the body passes ``limit``
    bytes, compressed or not; (415) for an encoding other than gzip, deflate, br or
    identity; (400) for a body that does not decompress.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self.limit = limit
        self._received = 0
        self._size = 0
        self._parts: list[bytes] = []
        self._stages: list[_Inflater | _Unbrotli] = []
        names = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
        for name in reversed(names):  # the last encoding applied is undone first
            if name in {"identity", ""}:
                continue
            if name in {"gzip", "x-gzip"}:
                self._stages.append(_Inflater("gzip"))
            elif name == "deflate":
                self._stages.append(_Inflater("deflate"))
            elif name == "br":
                self._stages.append(_Unbrotli())
            else:
                raise RequestProblem(
                    f"Content-Encoding {name!r} is not supported: send gzip, deflate, br or "
                    "an uncompressed body",
                    kind="unsupported-content-encoding",
                    title="Unsupported Content-Encoding",
                    status=415,
                )

    def _collect(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self.limit:
            raise too_large(self.limit)
        self._parts.append(data)

    def _through(self, stage: int, data: bytes) -> None:
        if stage == len(self._stages):
            self._collect(data)
        elif data:
            self._stages[stage].feed(data, lambda out: self._through(stage + 1, out))

    def feed(self, chunk: bytes) -> None:
        """Take the next raw chunk of the body."""
        self._received += len(chunk)
        if self._received > self.limit:
            raise too_large(self.limit)
        self._through(0, chunk)

    def finish(self) -> bytes:
        """The whole decoded body."""
        for index, stage in enumerate(self._stages):
            stage.finish(partial(self._through, index + 1))
        return b"".join(self._parts)


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower case, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_json(data: bytes | str) -> Any:
    """Parsed JSON, its NULs and lone surrogates replaced by U+FFFD (see ``wire_text``).

    Raises ValueError with a message that says where the JSON breaks.

    orjson reads it first (a third of the time per report): what it accepts, the
    standard decoder reads the same way. What it refuses (NaN, 1e999, a lone
    surrogate, a BOM, UTF-16, broken JSON) and an integer that may pass 64 bits
    (orjson makes it a float) go to the standard decoder, which accepts the same
    as before or says what is wrong in the same words.
    """
    if isinstance(data, bytes):
        long_integer = _LONG_DIGITS in data.translate(_DIGITS_ONLY)
    else:
        long_integer = _LONG_DIGITS_TEXT.search(data) is not None
    if not long_integer:
        try:
            return repair_strict(data, orjson.loads(data))
        except orjson.JSONDecodeError:
            pass
    try:
        return repair_decoded(data, json.loads(data))
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 text (byte {exc.start}): send UTF-8 JSON") from exc
    except RecursionError as exc:
        raise ValueError("the JSON is nested too deeply") from exc


def invalid_json(detail: str) -> RequestProblem:
    """The problem for a body that is not the JSON it claims to be."""
    return RequestProblem(detail, kind="invalid-json", title="Invalid JSON")
