"""Logging: secrets redacted from messages and tracebacks, request ids attached."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from syncengine.logs import CHATTY_LOGGERS, RedactingFilter, configure_logging, request_id


@pytest.fixture(autouse=True)
def _library_levels_restored() -> Iterator[None]:
    # configure_logging sets the library loggers' levels: put them back for other tests.
    yield
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_known_secrets_and_credential_shapes_are_redacted() -> None:
    f = RedactingFilter(["hunter2-token-value"])
    assert f.redact("token hunter2-token-value failed") == "token *** failed"
    assert f.redact("GET /post?token=abc123&format=json") == "GET /post?token=***&format=json"
    assert f.redact("Authorization: Basic Zm9vOmJhcg==") == "Authorization: Basic ***"


def test_json_lines_carry_request_id_and_redacted_traceback() -> None:
    configure_logging("info", json_lines=True, secrets=["s3cr3t-value-123"])
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    token = request_id.set("req-42")
    try:
        try:
            raise ValueError("bad token s3cr3t-value-123")
        except ValueError:
            logging.getLogger("t").exception("failed with s3cr3t-value-123")
    finally:
        request_id.reset(token)
        logging.getLogger().handlers.clear()
    entry = json.loads(stream.getvalue())
    assert entry["request_id"] == "req-42"
    assert entry["message"] == "failed with ***"
    assert "s3cr3t-value-123" not in stream.getvalue()
    assert "ValueError: bad token ***" in entry["exc"]


def _json_lines() -> tuple[io.StringIO, logging.Handler]:
    configure_logging("info", json_lines=True)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return stream, handler


def test_bound_context_fills_the_json_slots_and_ends_with_its_block() -> None:
    import pytest

    from syncengine.logs import bind, bound

    stream, _ = _json_lines()
    try:
        with bound(outbox_id=7, group_id=3):
            bind(project="shop")
            logging.getLogger("t").warning("inside")
        logging.getLogger("t").warning("after")
        with pytest.raises(TypeError, match="not a log context field"):
            bind(token="x")  # only the known slots: nothing arbitrary (or secret) rides along
    finally:
        logging.getLogger().handlers.clear()
    inside, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["project"], inside["group_id"], inside["outbox_id"]) == ("shop", 3, 7)
    assert not {"project", "group_id", "outbox_id"} & set(after)


async def test_tasks_side_by_side_keep_their_own_ids() -> None:
    import asyncio

    from syncengine.logs import bind, bound

    stream, _ = _json_lines()
    both = asyncio.Barrier(2)

    async def item(outbox_id: int, project: str) -> None:
        with bound(outbox_id=outbox_id):
            bind(project=project)
            await both.wait()  # both bound before either logs
            logging.getLogger("t").warning("item")

    try:
        await asyncio.gather(item(1, "a"), item(2, "b"))
    finally:
        logging.getLogger().handlers.clear()
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert sorted((e["outbox_id"], e["project"]) for e in entries) == [(1, "a"), (2, "b")]


@pytest.mark.parametrize("level", ["info", "debug"])
def test_library_chatter_shows_only_at_debug(level: str) -> None:
    # As uvicorn's default logging config leaves them when a server ran in this process:
    # own handlers, not propagating. configure_logging routes them through its handler.
    for name in ("uvicorn", "uvicorn.access"):
        logging.getLogger(name).addHandler(logging.NullHandler())
        logging.getLogger(name).propagate = False
    configure_logging(level, json_lines=True)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        for name in ("alembic.runtime.migration", "apscheduler.scheduler", "httpx"):
            logging.getLogger(name).info("routine step")
        logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /healthz" 200')
        logging.getLogger("uvicorn.error").info("Application startup complete.")
        logging.getLogger("uvicorn.error").error("error while attempting to bind")
        logging.getLogger("syncengine.sync.tickets").info("group 1: ticket CRASH-1 created")
    finally:
        logging.getLogger().handlers.clear()
    said = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    if level == "debug":
        assert len(said) == 7
    else:
        assert said == ["error while attempting to bind", "group 1: ticket CRASH-1 created"]
