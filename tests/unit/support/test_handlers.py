"""The support outbox handlers: their parts are named at construction and fixed after."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from syncengine.support.create import SupportCreateHandler
from syncengine.support.replies import SupportReplyHandler


@pytest.mark.parametrize("handler", [SupportCreateHandler, SupportReplyHandler])
def test_handlers_are_frozen_keyword_only_dataclasses(handler: Any) -> None:
    parts: dict[str, Any] = {
        "requests": object(),
        "projects": object(),
        "targets": object(),
        "clock": lambda: datetime(2026, 12, 2, tzinfo=UTC),
        "outbox": object(),
    }
    made = handler(**parts)
    required = {
        f.name
        for f in dataclasses.fields(made)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    assert required == set(parts)
    with pytest.raises(TypeError):
        handler(*parts.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.clock = parts["clock"]
