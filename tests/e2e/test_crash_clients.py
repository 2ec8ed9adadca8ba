"""The real crash clients from PyPI (sentry-sdk, backtracepython) against a served engine.

Each scenario runs the client in a child Python process (so unhandled exceptions
really are unhandled), then reads the groups back from the server's store.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncengine.domain.fingerprint import custom_fingerprint, default_fingerprint
from syncengine.domain.groups import GroupSnapshot
from syncengine.domain.placeholders import expand
from syncengine.domain.reports import CrashReport
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository
from syncengine.store.projects import ProjectRepository
from tests.e2e.conftest import Server

TOKEN = "e2e-shop-token-0123456789abcdef"

CONFIG = """
data_dir = "{data}"
log_level = "info"

[projects.shop]
submission_token_env = "E2E_SHOP_TOKEN"
version_attribute = "app.version"
"""


@pytest.fixture
def engine(tmp_path: Path, serve: type[Server]) -> Iterator[Server]:
    config = tmp_path / "syncengine.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"), encoding="utf-8")
    server = serve(config, {"E2E_SHOP_TOKEN": TOKEN})
    server.wait_ready()
    assert "project shop: id 1 (the project number in a Sentry DSN)" in server.log.read_text()
    yield server
    assert server.stop() == 0
    assert TOKEN not in server.log.read_text()


def run_client(
    tmp_path: Path, name: str, code: str, *args: str
) -> subprocess.CompletedProcess[str]:
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    script = app / f"{name}.py"
    script.write_text(textwrap.dedent(code), encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def read_groups(tmp_path: Path, expected: int, timeout: float = 15.0) -> list[GroupSnapshot]:
    """The shop's groups with their attributes, once ``expected`` groups exist."""

    async def load() -> list[GroupSnapshot]:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'syncengine.db'}")
        try:
            shop = await ProjectRepository(db).get("shop")
            assert shop is not None
            repo = GroupRepository(db)
            page = await repo.page(shop.id, limit=100)
            return [await repo.snapshot(g.id) for g in page.groups]
        finally:
            await db.aclose()

    deadline = time.monotonic() + timeout
    while True:
        groups = asyncio.run(load())
        if len(groups) >= expected or time.monotonic() > deadline:
            return groups
        time.sleep(0.2)


def rebuilt(group: GroupSnapshot) -> CrashReport:
    """A report with what grouping reads (type, frames), from a group's sample."""
    return CrashReport(
        project="shop",
        timestamp=datetime.now(UTC),
        classifier=group.classifier,
        frames=group.frames,
    )


def by_classifier(groups: list[GroupSnapshot]) -> dict[str, GroupSnapshot]:
    return {g.classifier or g.message.replace("beta", "alpha"): g for g in groups}


SENTRY_APP = """
    import logging
    import sys
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    port, release = sys.argv[1], sys.argv[2]
    sentry_sdk.init(
        dsn=f"http://{TOKEN}@127.0.0.1:{port}/1",
        release=release,
        environment="staging",
        server_name="e2e-host",
        shutdown_timeout=20,  # a loaded CI machine may need more than the default 2 s
        # sentry-sdk 2 made an event of every error log record by default; 3 sends log
        # records as Sentry logs ("log" envelope items, which are not crashes and which
        # syncengine skips) unless asked, as here, for events too.
        integrations=[LoggingIntegration(event_level=logging.ERROR)],
    )
    sentry_sdk.set_tag("region", "eu")


    class CheckoutFailed(Exception):
        pass


    def lookup(cart):
        return cart["sku"]


    def checkout(cart):
        try:
            lookup(cart)
        except KeyError as exc:
            raise CheckoutFailed(f"cannot price cart {id(cart)}") from exc


    try:
        checkout({})
    except CheckoutFailed as exc:
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = ["{{ default }}", "payments"]
            sentry_sdk.capture_exception(exc)

    sentry_sdk.capture_message("cache cold for tenant 42", level="info")
    job = "alpha" if release.endswith("0") else "beta"
    logging.getLogger("shop.jobs").error("job %s failed", job)
    logging.getLogger("shop.jobs").warning("queue %s is slow", job)  # a log record, no event


    def explode():
        raise RuntimeError("the reactor is on fire")


    explode()
""".replace("{TOKEN}", TOKEN)


def test_sentry_sdk_handled_chained_message_and_unhandled(tmp_path: Path, engine: Server) -> None:
    for release in ("shop@1.0.0", "shop@1.0.1"):
        done = run_client(tmp_path, "sentry_app", SENTRY_APP, str(engine.port), release)
        assert "RuntimeError: the reactor is on fire" in done.stderr, done.stderr
    groups = by_classifier(read_groups(tmp_path, expected=4))
    assert set(groups) == {
        "CheckoutFailed",
        "cache cold for tenant 42",
        "RuntimeError",
        "job alpha failed",
    }, groups

    handled = groups["CheckoutFailed"]
    assert handled.count == 2  # the next release lands in the same group
    assert handled.message.startswith("cannot price cart ")
    assert (handled.first_version, handled.last_version) == ("shop@1.0.0", "shop@1.0.1")
    assert handled.top_value("environment") == "staging"
    assert handled.top_value("region") == "eu"
    assert handled.top_value("server_name") == "e2e-host"
    assert handled.top_value("handled") == "true"
    assert {v.value for v in handled.attributes["release"]} == {"shop@1.0.0", "shop@1.0.1"}
    # the custom fingerprint ["{{ default }}", "payments"] was honoured, over the raised exception
    assert [f.function for f in handled.frames[:2]] == ["checkout", "<module>"]
    as_sent = rebuilt(handled)
    assert handled.fingerprint == custom_fingerprint(["{{ default }}", "payments"], as_sent)
    assert handled.fingerprint != default_fingerprint(as_sent)

    message = groups["cache cold for tenant 42"]
    assert message.count == 2
    assert message.top_value("level") == "info"

    unhandled = groups["RuntimeError"]
    assert unhandled.count == 2
    assert unhandled.message == "the reactor is on fire"
    assert unhandled.top_value("handled") == "false"
    assert unhandled.top_value("level") == "error"
    assert unhandled.frames[0].function == "explode"
    assert unhandled.fingerprint == default_fingerprint(rebuilt(unhandled))
    assert len({g.fingerprint for g in groups.values()}) == 4

    logged = groups["job alpha failed"]  # the logging integration: grouped by its template
    assert logged.count == 2  # "job alpha failed" and "job beta failed"
    assert logged.top_value("logger") == "shop.jobs"


BACKTRACE_APP = """
    import sys
    import backtracepython as bt

    port, version, form = sys.argv[1], sys.argv[2], sys.argv[3]
    base = f"http://127.0.0.1:{port}"
    if form == "path":
        bt.initialize(endpoint=f"{base}/my-universe/{TOKEN}/json", token=None,
                      attributes={"app.version": version, "team": "payments", "shards": 3},
                      timeout=20, exit_timeout=20)
    else:
        bt.initialize(endpoint=base, token="{TOKEN}",
                      attributes={"app.version": version, "team": "payments", "shards": 3},
                      timeout=20, exit_timeout=20)


    def divide(a, b):
        return a / b


    try:
        divide(1, 0)
    except ZeroDivisionError:
        bt.send_last_exception(attributes={"step": "pricing"})

    bt.send_report("cache cold", attributes={"cache": "prices", "user.id": "u-7"})


    def explode():
        raise LookupError("no such tenant")


    explode()
""".replace("{TOKEN}", TOKEN)


def test_backtracepython_handled_message_and_unhandled(tmp_path: Path, engine: Server) -> None:
    for version, form in (("3.1.0", "query"), ("3.1.1", "path")):
        if version == "3.1.1":
            # Backtrace timestamps have one-second resolution: the two versions tie on count,
            # and the tie goes to the more recently seen one only if the seconds differ.
            time.sleep(1.1)
        done = run_client(tmp_path, "bt_app", BACKTRACE_APP, str(engine.port), version, form)
        assert "LookupError: no such tenant" in done.stderr, done.stderr
    groups = by_classifier(read_groups(tmp_path, expected=3))
    assert set(groups) == {"ZeroDivisionError", "cache cold", "LookupError"}, groups

    handled = groups["ZeroDivisionError"]
    assert handled.count == 2
    assert handled.message == "division by zero"
    assert (handled.first_version, handled.last_version) == ("3.1.0", "3.1.1")
    assert handled.top_value("team") == "payments"
    assert handled.top_value("shards") == "3"
    assert handled.top_value("step") == "pricing"
    assert handled.top_value("error.type") == "Exception"
    assert handled.top_value("application") == "MainProcess"

    message = groups["cache cold"]
    assert message.count == 2
    assert message.top_value("error.type") == "Message"
    assert message.top_value("cache") == "prices"
    assert message.top_value("user.id") == "u-7"  # Backtrace's user attributes are counted too
    # the project's version attribute (app.version) is the canonical version $version reads
    assert {v.value for v in handled.attributes["version"]} == {"3.1.0", "3.1.1"}
    summary = expand("$classifier in $version: $message", handled)
    assert summary == "ZeroDivisionError in 3.1.1: division by zero"

    unhandled = groups["LookupError"]
    assert unhandled.count == 2
    assert unhandled.top_value("error.type") == "Unhandled exception"
    assert unhandled.message == "no such tenant"


SENTRY_RELEASES_APP = """
    import sys
    import sentry_sdk

    port, release = sys.argv[1], sys.argv[2]
    sentry_sdk.init(dsn=f"http://{TOKEN}@127.0.0.1:{port}/1", release=release, shutdown_timeout=20)
    # with the brotli module importable, sentry-sdk compresses its envelopes with brotli
    print("compression:", sentry_sdk.get_client().transport._compression_algo)
    sentry_sdk.set_user(
        {"id": "42", "email": "ada@example.com", "username": "ada", "ip_address": "{{auto}}"}
    )


    def charge():
        raise RuntimeError("card declined")


    try:
        charge()
    except RuntimeError as exc:
        sentry_sdk.capture_exception(exc)
    sentry_sdk.flush()
""".replace("{TOKEN}", TOKEN)


def wait_for(tmp_path: Path, check: Callable[[GroupSnapshot], bool]) -> GroupSnapshot:
    """The shop's one group once ``check`` holds for it (or as it is after 15 s)."""
    deadline = time.monotonic() + 15
    while True:
        [group] = read_groups(tmp_path, expected=1)
        if check(group) or time.monotonic() > deadline:
            return group
        time.sleep(0.2)


def test_sentry_sdk_with_brotli_package_releases_resolve_until_and_regress(
    tmp_path: Path, engine: Server
) -> None:
    def send(release: str) -> None:
        done = run_client(tmp_path, "releases", SENTRY_RELEASES_APP, str(engine.port), release)
        assert done.returncode == 0, done.stderr
        assert "compression: br" in done.stdout  # what a client with brotli installed sends

    send("checkout-service@1.4.2")
    group = wait_for(tmp_path, lambda g: g.count == 1)
    assert group.top_value("version") == "checkout-service@1.4.2"
    summary = expand("$classifier in $version: $message", group)
    assert summary == "RuntimeError in checkout-service@1.4.2: card declined"
    assert (group.top_value("user.id"), group.top_value("user.email")) == ("42", "ada@example.com")
    assert group.top_value("user.username") == "ada"
    assert "user.ip_address" not in group.attributes  # "{{auto}}" is not an address

    config = str(tmp_path / "syncengine.toml")
    resolve = ["group", "resolve", str(group.id), "--until-version", "1.4.3"]
    resolved = subprocess.run(
        [sys.executable, "-m", "syncengine", "--config", config, *resolve],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "E2E_SHOP_TOKEN": TOKEN},
    )
    assert resolved.returncode == 0, resolved.stderr
    send("checkout-service@1.4.2")  # an older release: only counted
    group = wait_for(tmp_path, lambda g: g.count == 2)
    assert (group.count, group.state.value, group.version_problem) == (2, "resolved", None)
    send("checkout-service@1.4.3+77")  # the fixed release, a later build: a regression
    group = wait_for(tmp_path, lambda g: g.count == 3 and g.state.value == "open")
    assert (group.state.value, group.regression_count) == ("open", 1)
    assert group.last_version == "checkout-service@1.4.3+77"
