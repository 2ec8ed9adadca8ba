"""Pre-aggregating a batch in memory: one change per group and per count row."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from syncengine.domain.groups import GroupSnapshot, GroupState
from syncengine.domain.reports import CrashReport, Frame
from syncengine.store.batch_fold import BatchFold, frames_from_payload, sample_payload
from syncengine.store.database import id_chunks
from syncengine.store.group_queries import decode_cursor, encode_cursor
from syncengine.store.tables import from_epoch_ms, to_epoch_ms

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def report(fp: str, second: int, version: str | None = None, **attributes: str) -> CrashReport:
    return CrashReport(
        project="p",
        timestamp=T0 + timedelta(seconds=second),
        fingerprint=fp,
        version=version,
        attributes=attributes,
    )


def test_a_batch_folds_reports_per_group_and_value() -> None:
    batch = BatchFold(samples_first=2, samples_newest=3)
    batch.add(1, [report("a", 5, "1.1", os="linux"), report("b", 1), report("a", 2, os="mac")])
    batch.add(1, [report("a", 9, None, os="linux"), report("a", 7, "1.3", os="linux")])
    batch.add(2, [report("a", 0)])
    assert batch.reports == 6
    assert batch.names == {"os"}
    assert sorted(batch.groups) == [(1, "a"), (1, "b"), (2, "a")]
    a = batch.groups[(1, "a")]
    assert a.count == 4
    assert (a.first_seen, a.last_seen) == (T0 + timedelta(seconds=2), T0 + timedelta(seconds=9))
    # Versions by report time: the versionless report at 9 s leaves the last version at 1.3.
    assert (a.first_version, a.last_version) == ("1.1", "1.3")
    assert a.attributes == {
        ("os", "linux"): [3, to_epoch_ms(T0 + timedelta(seconds=9))],
        ("os", "mac"): [1, to_epoch_ms(T0 + timedelta(seconds=2))],
    }
    assert [r.timestamp.second for r in a.head()] == [5, 2]
    assert [(i, r.timestamp.second) for i, r in a.tail()] == [(1, 2), (2, 9), (3, 7)]
    assert [[g.fingerprint for g in m] for m in batch.members] == [
        ["a", "b", "a"],
        ["a", "a"],
        ["a"],
    ]
    assert batch.members[0][0] is batch.members[1][1]
    assert [g.fingerprint for g in batch.sorted_groups()] == ["a", "b", "a"]


def test_a_report_without_fingerprint_is_refused() -> None:
    with pytest.raises(ValueError, match="without a fingerprint"):
        BatchFold(samples_first=1, samples_newest=1).add(
            1, [CrashReport(project="p", timestamp=T0)]
        )


def test_sample_payload_round_trips_frames() -> None:
    frames = (Frame(function="f", module="m", filename="m.py", line=3, in_app=True), Frame())
    payload = sample_payload(
        CrashReport(project="p", timestamp=T0, fingerprint="x", frames=frames, raw={"k": [1]})
    )
    data = json.loads(payload)
    assert data["raw"] == {"k": [1]}
    assert frames_from_payload(data) == frames
    assert frames_from_payload({"frames": ["junk", {"line": "x", "in_app": "yes"}]}) == (Frame(),)


def test_epoch_millis_and_cursors_round_trip() -> None:
    moment = T0 + timedelta(microseconds=123_000)
    assert from_epoch_ms(to_epoch_ms(moment)) == moment
    group = GroupSnapshot(
        id=42,
        project="p",
        fingerprint="f",
        state=GroupState.OPEN,
        count=1,
        first_seen=T0,
        last_seen=moment,
    )
    assert decode_cursor(encode_cursor(group)) == (moment, 42)
    for bad in ("", "!!", "bm9wZQ", "MjAyNi0wMS0wMXwx"):  # the last is a naive time
        with pytest.raises(ValueError, match="not one this API handed out"):
            decode_cursor(bad)


@pytest.mark.parametrize(
    ("sort", "raw"),
    [
        ("count", "99999999999999999999999|1"),
        ("count", "1|99999999999999999999999"),
        ("count", "-1|1"),
        ("last_seen", "2026-01-01T00:00:00+00:00|99999999999999999999999"),
        ("last_seen", "0001-01-01T00:00:00+14:00|5"),
        ("last_seen", "9999-12-31T23:59:59-14:00|5"),
    ],
)
def test_a_forged_cursor_is_refused_not_passed_to_the_store(sort: str, raw: str) -> None:
    """Numbers past 64 bits and times with no UTC equivalent were a 500 from the store."""
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    with pytest.raises(ValueError, match="not one this API handed out"):
        decode_cursor(cursor, sort)  # type: ignore[arg-type]


def test_id_lists_take_few_lengths_so_sqlite_caches_few_statements() -> None:
    # One SQL text per IN-list length, each prepared and cached per connection: the
    # fold's lookups must not bring a new length with every batch.
    lengths: set[int] = set()
    for n in range(1, 1500):
        chunks = list(id_chunks(range(n)))
        assert sorted(set().union(*chunks)) == list(range(n))
        lengths.update(len(chunk) for chunk in chunks)
    assert lengths == {2**k for k in range(10)}
    assert list(id_chunks([7, 8, 9, 10, 11], most=2)) == [[7, 8], [9, 10], [11]]
    assert list(id_chunks([7, 8, 9], most=16)) == [[7, 8, 9, 9]]
