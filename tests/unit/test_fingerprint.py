"""Default grouping and client-given fingerprints."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from syncengine.domain.fingerprint import (
    assign_fingerprint,
    custom_fingerprint,
    default_components,
    default_fingerprint,
    normalise_message,
)
from syncengine.domain.reports import CrashReport, Frame

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def report(**kwargs: object) -> CrashReport:
    return CrashReport(project="p", timestamp=NOW, **kwargs)  # type: ignore[arg-type]


CRASH = report(
    classifier="ValueError",
    message="bad value 42 for user 3f2a9c1e-1111-2222-3333-444455556666",
    frames=(
        Frame(function="parse", filename="/srv/app-1.2.0/app/parser.py", line=10),
        Frame(function="handle", filename="/srv/app-1.2.0/app/views.py", line=99),
        Frame(function="call", filename="/usr/lib/python3.12/site-packages/lib/x.py", line=5),
    ),
    version="1.2.0",
)


def test_same_crash_in_the_next_release_groups_together() -> None:
    moved = replace(
        CRASH,
        message="bad value 7 for user 00000000-1111-2222-3333-444455556666",
        frames=(
            Frame(function="parse", filename="/opt/app-1.3.0/app/parser.py", line=12),
            Frame(function="handle", filename="/opt/app-1.3.0/app/views.py", line=140),
            Frame(function="call", filename="/venv/lib/python3.13/site-packages/lib/x.py"),
        ),
        version="1.3.0",
        attributes={"host": "b"},
    )
    assert default_fingerprint(moved) == default_fingerprint(CRASH)
    assert len(default_fingerprint(CRASH)) == 64


def test_components_use_type_and_in_app_base_names_only() -> None:
    assert default_components(CRASH) == [
        "type:ValueError",
        "frame:parser.py:parse",
        "frame:views.py:handle",
    ]


def test_a_different_function_or_type_is_a_different_group() -> None:
    other_type = replace(CRASH, classifier="KeyError")
    other_frame = replace(CRASH, frames=(Frame(function="load", filename="app/parser.py"),))
    fingerprints = {default_fingerprint(r) for r in (CRASH, other_type, other_frame)}
    assert len(fingerprints) == 3


def test_module_wins_over_file_and_in_app_flag_is_honoured() -> None:
    frames = (
        Frame(function="f", module="app.core", filename="app/core.py", in_app=True),
        Frame(function="g", module="vendor.lib", filename="app/vendored.py", in_app=False),
    )
    assert default_components(report(classifier="E", frames=frames)) == [
        "type:E",
        "frame:app.core:f",
    ]


def test_only_library_frames_are_used_when_nothing_is_in_app() -> None:
    frames = (Frame(function="get", filename="/x/site-packages/requests/api.py"),)
    assert default_components(report(classifier="E", frames=frames)) == [
        "type:E",
        "frame:api.py:get",
    ]


def test_top_frames_are_bounded() -> None:
    frames = tuple(Frame(function=f"f{i}", filename="a.py") for i in range(20))
    assert len(default_components(report(classifier="E", frames=frames))) == 6


def test_generated_names_and_addresses_are_noise() -> None:
    one = report(
        frames=(
            Frame(function="lambda$main$0", module="com.acme.Foo$1"),
            Frame(function="run", module="com.acme.Foo$$Lambda$14/0x0000000800c03000"),
            Frame(function="main.run.func1", filename="https://cdn/x/app.js?v=9"),
            Frame(function="<anonymous>", filename="https://cdn/x/app.js?v=9"),
            Frame(function="handler at 0x7f3a12", filename="C:\\build\\7\\mod.c"),
        )
    )
    two = report(
        frames=(
            Frame(function="lambda$main$3", module="com.acme.Foo$2"),
            Frame(function="run", module="com.acme.Foo$$Lambda$99/0x0000000800d00000"),
            Frame(function="main.run.func2", filename="https://cdn/y/app.js?v=10"),
            Frame(function="?", filename="https://cdn/y/app.js"),
            Frame(function="handler at 0x1", filename="D:\\ci\\8\\mod.c"),
        )
    )
    assert default_components(one) == default_components(two)
    assert default_components(one)[3] == "frame:app.js:"


def test_messages_group_when_there_are_no_frames() -> None:
    a = report(message="timeout after 30s talking to 10.0.0.1 (req 0xdeadbeef)")
    b = report(message="timeout  after 45s talking to 10.0.0.7 (req 0x1234)")
    c = report(message="connection refused")
    assert default_fingerprint(a) == default_fingerprint(b) != default_fingerprint(c)
    assert normalise_message("mail bob@example.com id 12") == "mail <email> id <n>"


def test_type_and_message_without_frames() -> None:
    assert default_components(report(classifier="E", message="x 1")) == ["type:E", "message:x <n>"]


def test_messages_from_one_place_are_told_apart_by_text() -> None:
    frames = (Frame(function="log_problem", filename="app/log.py"),)
    a = report(message="disk full", frames=frames)
    b = report(message="quota exceeded", frames=frames)
    assert default_components(a) == ["frame:log.py:log_problem", "message:disk full"]
    assert default_fingerprint(a) != default_fingerprint(b)


def test_nothing_at_all_is_one_group() -> None:
    assert default_components(report()) == ["empty"]


def test_client_fingerprint_is_honoured_and_default_marker_expands() -> None:
    assert custom_fingerprint(["{{ default }}"], CRASH) == default_fingerprint(CRASH)
    assert custom_fingerprint(["{{default}}"], CRASH) == default_fingerprint(CRASH)
    mixed = custom_fingerprint(["{{ default }}", "db-1"], CRASH)
    assert mixed not in {default_fingerprint(CRASH), custom_fingerprint(["db-1"], CRASH)}
    # a custom fingerprint ignores the stack entirely
    assert custom_fingerprint(["x"], CRASH) == custom_fingerprint(["x"], report())
    assert len(custom_fingerprint(["x" * 5000], CRASH)) == 64


def test_assign_sets_the_fingerprint() -> None:
    assert assign_fingerprint(CRASH).fingerprint == default_fingerprint(CRASH)
    assert assign_fingerprint(CRASH, ["a"]).fingerprint == custom_fingerprint(["a"], CRASH)
    assert assign_fingerprint(CRASH, []).fingerprint == default_fingerprint(CRASH)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@settings(max_examples=200)
@given(
    st.lists(st.tuples(names, names), min_size=1, max_size=8),
    st.lists(st.integers(1, 10_000), min_size=8, max_size=8),
    st.sampled_from(["/srv/app-1.0", "/opt/app-2.3.1/src", "C:\\build\\77", ""]),
)
def test_lines_and_directories_never_change_the_group(
    stack: list[tuple[str, str]], lines: list[int], root: str
) -> None:
    base = report(
        classifier="E",
        frames=tuple(Frame(function=f, filename=f"{m}.py") for f, m in stack),
    )
    moved = report(
        classifier="E",
        frames=tuple(
            Frame(function=f, filename=f"{root}/{m}.py", line=line)
            for (f, m), line in zip(stack, lines, strict=False)
        ),
    )
    assert default_fingerprint(base) == default_fingerprint(moved)
