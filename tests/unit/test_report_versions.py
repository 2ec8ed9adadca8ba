"""Every report's version as the canonical ``version`` attribute, in every wire format."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from syncengine.bootstrap.values import report_contexts
from syncengine.domain.groups import AttributeValue, GroupSnapshot, GroupState
from syncengine.domain.placeholders import expand
from syncengine.ingest.backtrace import parse_backtrace
from syncengine.ingest.limits import ReportContext
from syncengine.ingest.native import parse_native
from syncengine.ingest.sentry import event_report
from syncengine.settings import ProjectSettings, Settings

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def ctx(**kw: str) -> ReportContext:
    return ReportContext(project="shop", now=NOW, **kw)  # type: ignore[arg-type]


def sentry(release: str | None, c: ReportContext, **extra: object) -> dict[str, str]:
    event = {"exception": {"values": [{"type": "RuntimeError", "value": "boom"}]}, **extra}
    if release is not None:
        event["release"] = release
    report = event_report(event, c).report
    assert report.attributes.get("version") == report.version
    return report.attributes


def backtrace(attributes: dict[str, object], c: ReportContext) -> dict[str, str]:
    body = json.dumps({"classifiers": ["LookupError"], "attributes": attributes}).encode()
    report = parse_backtrace(body, "application/json", c).reports[0].report
    assert report.attributes.get("version") == report.version
    return report.attributes


def test_each_client_version_field_becomes_the_version_attribute() -> None:
    assert sentry("checkout-service@1.4.2", ctx())["version"] == "checkout-service@1.4.2"
    assert backtrace({"application.version": "3.1.0"}, ctx())["version"] == "3.1.0"
    native = parse_native(
        json.dumps({"classifier": "E", "version": "2.4.1"}).encode(), "application/json", ctx()
    )
    assert native.reports[0].report.attributes["version"] == "2.4.1"
    assert "version" not in sentry(None, ctx())  # no version: no attribute, nothing invented


def test_the_project_says_which_attribute_is_the_version() -> None:
    mine = ctx(version_attribute="build.version")
    both = {"application.version": "3.1.0", "build.version": "3.1.0-17"}
    assert backtrace(both, mine)["version"] == "3.1.0-17"
    assert backtrace({"application.version": "3.1.0"}, mine)["version"] == "3.1.0"  # fallback
    tagged = sentry("shop@1.0.0", mine, tags={"build.version": "1.0.0.44"})
    assert (tagged["version"], tagged["release"]) == ("1.0.0.44", "shop@1.0.0")


def test_the_version_extractor_takes_its_group_and_keeps_what_it_cannot_match() -> None:
    pattern = ctx(version_pattern=r"MyApp (\d+(?:\.\d+)*)")
    got = backtrace({"application.version": "MyApp 2.3.1 (build 7)"}, pattern)
    assert got["version"] == "2.3.1"
    assert got["application.version"] == "MyApp 2.3.1 (build 7)"  # the original stays
    assert backtrace({"application.version": "nightly"}, pattern)["version"] == "nightly"


def test_settings_check_the_extractor_and_reach_the_intake() -> None:
    with pytest.raises(ValueError, match="exactly one group"):
        ProjectSettings(version_pattern=r"(\d+)\.(\d+)")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        ProjectSettings(version_pattern=r"(\d+")
    settings = Settings(
        projects={"shop": ProjectSettings(version_pattern=r"v(\S+)", version_attribute="rel")}
    )
    made = report_contexts(settings).for_project("shop", NOW)
    assert (made.version_pattern, made.version_attribute) == (r"v(\S+)", "rel")


def test_the_readme_summary_renders_the_version_of_a_sentry_group() -> None:
    attributes = sentry("checkout-service@1.4.2", ctx())
    group = GroupSnapshot(
        id=1,
        project="shop",
        fingerprint="f",
        state=GroupState.OPEN,
        count=1,
        first_seen=NOW,
        last_seen=NOW,
        classifier="RuntimeError",
        message="boom",
        attributes={
            k: (AttributeValue(value=v, count=1, last_seen=NOW),) for k, v in attributes.items()
        },
    )
    summary = expand("$classifier in $version: $message", group)
    assert summary == "RuntimeError in checkout-service@1.4.2: boom"
