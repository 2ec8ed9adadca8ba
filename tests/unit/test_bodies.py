"""Reading bodies within limits: encodings, bombs, sizes."""

from __future__ import annotations

import gzip
import zlib

import brotli  # type: ignore[import-untyped]
import pytest

from syncengine.ingest.bodies import MAX_GZIP_MEMBERS, BodyReader
from syncengine.ingest.problems import RequestProblem


def read(data: bytes, encoding: str | None, limit: int = 1_000_000, chunk: int = 7) -> bytes:
    reader = BodyReader(encoding, limit)
    for start in range(0, len(data), chunk):
        reader.feed(data[start : start + chunk])
    return reader.finish()


TEXT = b'{"message": "hello"}' * 50


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [
        (None, TEXT),
        ("identity", TEXT),
        ("gzip", gzip.compress(TEXT, mtime=0)),
        ("x-gzip", gzip.compress(TEXT, mtime=0)),
        ("GZIP", gzip.compress(TEXT, mtime=0)),
        ("deflate", zlib.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)[2:-4]),  # raw deflate, as some clients send it
        ("deflate, gzip", gzip.compress(zlib.compress(TEXT), mtime=0)),
        ("br", brotli.compress(TEXT)),  # sentry-sdk's choice when brotli is importable
        ("BR", brotli.compress(TEXT, quality=1)),
        ("gzip, br", brotli.compress(gzip.compress(TEXT, mtime=0))),
    ],
)
def test_encodings_are_decoded(encoding: str | None, packed: bytes) -> None:
    assert read(packed, encoding) == TEXT


def test_a_decompression_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB that would inflate to 50 MB
    reader = BodyReader("gzip", 1_000_000)
    with pytest.raises(RequestProblem) as caught:
        reader.feed(bomb)
    assert caught.value.status_code == 413
    assert sum(len(p) for p in reader._parts) <= 1_000_000


def test_a_brotli_bomb_stops_at_the_limit_like_gzip() -> None:
    bomb = brotli.compress(b"\0" * 20_000_000, quality=1)  # a few KB that would be 20 MB
    assert len(bomb) < 100_000
    reader = BodyReader("br", 1_000_000)
    with pytest.raises(RequestProblem) as caught:
        reader.feed(bomb)
    assert caught.value.status_code == 413
    assert sum(len(p) for p in reader._parts) <= 1_000_000


def test_a_brotli_stream_cut_short_or_broken_is_400() -> None:
    packed = brotli.compress(TEXT * 20)
    with pytest.raises(RequestProblem, match="not valid br") as caught:
        read(packed[: len(packed) // 2], "br")
    assert caught.value.status_code == 400
    with pytest.raises(RequestProblem, match="not valid br"):
        read(b"\xff\xff\xff not brotli", "br")


def test_a_plain_body_over_the_limit_is_413() -> None:
    with pytest.raises(RequestProblem, match="larger than 100 bytes") as caught:
        read(b"x" * 101, None, limit=100)
    assert caught.value.status_code == 413
    assert read(b"x" * 100, None, limit=100) == b"x" * 100


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("gzip", b"not gzip at all"),
        ("gzip", gzip.compress(TEXT, mtime=0)[:-10]),
        ("deflate", b"\x00\x01"),
    ],
)
def test_bad_compressed_data_is_400(encoding: str, data: bytes) -> None:
    with pytest.raises(RequestProblem, match="not valid") as caught:
        read(data, encoding)
    assert caught.value.status_code == 400


def test_unknown_encoding_is_415() -> None:
    with pytest.raises(RequestProblem, match="'zstd' is not supported") as caught:
        BodyReader("zstd", 100)
    assert caught.value.status_code == 415


@pytest.mark.parametrize("chunk", [1, 7, 100_000])
def test_a_gzip_body_of_several_members_is_read_whole(chunk: int) -> None:
    # RFC 1952 2.2: a gzip file is a series of members (what `cat a.gz b.gz` gives).
    members = gzip.compress(b'[{"message": "a"},') + gzip.compress(b"") + gzip.compress(b"{}]")
    assert read(members, "gzip", chunk=chunk) == b'[{"message": "a"},{}]'


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("gzip", gzip.compress(TEXT, mtime=0) + b"trailing garbage"),
        ("gzip", gzip.compress(TEXT, mtime=0) + b"\x1f"),  # half a magic number, then the end
        ("gzip", gzip.compress(TEXT, mtime=0) + b"\x1f\x8b"),  # a member that never comes
        ("deflate", zlib.compress(TEXT) + b"more"),
        ("deflate", zlib.compress(TEXT)[2:-4] + b"\x03\x00more"),
    ],
)
def test_data_after_the_compressed_stream_is_refused(encoding: str, data: bytes) -> None:
    with pytest.raises(RequestProblem) as caught:
        read(data, encoding)
    assert caught.value.status_code == 400
    assert caught.value.kind == "bad-content-encoding"


def test_members_are_bounded() -> None:
    many = gzip.compress(b"x") * (MAX_GZIP_MEMBERS + 1)
    with pytest.raises(RequestProblem, match=f"more than {MAX_GZIP_MEMBERS} gzip members"):
        read(many, "gzip", chunk=4096)
    assert read(many[: len(many) - len(gzip.compress(b"x"))], "gzip", chunk=4096) == (
        b"x" * MAX_GZIP_MEMBERS
    )


def test_every_member_counts_against_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 600_000) * 2  # each member alone fits, both do not
    with pytest.raises(RequestProblem) as caught:
        read(bomb, "gzip", chunk=4096)
    assert caught.value.status_code == 413
