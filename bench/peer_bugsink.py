"""syncengine against Bugsink (a real Sentry-compatible peer) on the same Sentry envelopes.

Installs Bugsink from PyPI into its own virtualenv (``--venv``; made once, reused),
then sends the same ``--events`` envelopes over ``--fingerprints`` groups, one
event per request over ``--concurrency`` keep-alive connections (as sentry-sdk
sends them), to each server in turn, and reports for each:

- events/s accepted (2xx answers over the sending time);
- the time from the first request until every event is grouped and visible:
  syncengine answers only once an event is stored in its group, Bugsink answers
  first and digests later, so its store is polled until its issues hold every
  event (``issues_issue.digested_event_count``);
- CPU-seconds of the server's processes over that time, and their RSS.

syncengine runs ``serve`` on SQLite with every ingest hook on (regressions,
history, ticket rules) and the integration Passive (tickets queued, not pushed:
Bugsink files no tickets either). Bugsink runs as its ``singleserver``
template sets it up: gunicorn (``--workers``) plus its ``snappea`` digest worker,
SQLite; its ingest quotas are raised and its retention set to the run's size so
that it keeps every event (defaults would drop events past 1,000 per 5 minutes).

    .venv/bin/python bench/peer_bugsink.py --events 20000 --fingerprints 2000

The full 20,000 takes Bugsink many minutes on a shared 2-core machine: pass
``--events``/``--fingerprints`` for a smaller run (the ratio is what to compare).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from raw_http import request, send_all
from served import (
    Served,
    free_port,
    load_average,
    syncengine_command,
    tree_cpu,
    tree_rss,
    write_syncengine_config,
)
from wire_events import sentry_envelope

TOKEN = "bench-token-0123456789abcdef"
BUGSINK_KEY = uuid.UUID(int=0x5EED).hex
DEFAULT_VENV = Path.home() / ".cache" / "syncengine-bench" / "bugsink-venv"


@dataclass(frozen=True)
class Outcome:
    name: str
    accepted: int
    accept_seconds: float
    grouped_seconds: float
    cpu_seconds: float
    rss_before: float
    rss_after: float
    groups: int
    load: str

    @property
    def accept_rate(self) -> float:
        return self.accepted / self.accept_seconds

    @property
    def end_to_end(self) -> float:
        return self.accepted / self.grouped_seconds


def ensure_bugsink(venv: Path, version: str) -> Path:
    """The virtualenv's bin folder, with Bugsink installed; exits saying why it cannot be."""
    bin_dir = venv / "bin"
    if (bin_dir / "bugsink-manage").exists():
        return bin_dir
    print(f"installing bugsink=={version} into {venv} (once) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(bin_dir / "pip"), "install", "--quiet", f"bugsink=={version}"],
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise SystemExit(
            f"Bugsink could not be installed ({exc}): the package registry must be reachable "
            "and bugsink's dependencies (Django, gunicorn, ...) installable for this Python"
        ) from exc
    return bin_dir


def envelopes(events: int, fingerprints: int, key: str, project: str) -> list[bytes]:
    rnd = random.Random(20)
    picks = [n % fingerprints for n in range(fingerprints)]  # every group at least once
    picks += [rnd.randrange(fingerprints) for _ in range(events - len(picks))]
    rnd.shuffle(picks)
    built = []
    for n, fp in enumerate(picks):
        path, headers, body = sentry_envelope(fp, n, key=key, project=project)
        built.append(request("POST", path, body, headers))
    return built


def poll(done: Callable[[], tuple[bool, int]], started: float, timeout: float) -> tuple[float, int]:
    """Seconds from ``started`` until ``done()`` says so (and the groups it saw)."""
    while True:
        try:
            finished, groups = done()
        except sqlite3.Error:
            finished, groups = False, 0  # the table is being created or locked: look again
        if finished:
            return time.perf_counter() - started, groups
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"not all grouped after {timeout:.0f}s ({groups} groups so far)")
        time.sleep(0.25)


def counted(database: Path, sql: str, events: int) -> Callable[[], tuple[bool, int]]:
    def check() -> tuple[bool, int]:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
            groups, total = conn.execute(sql).fetchone()
        return (total or 0) >= events, int(groups or 0)

    return check


def drive(name: str, served: Served, bodies: list[bytes], args, check) -> Outcome:
    rss_before, cpu_before = served.rss(), served.cpu()
    started = time.perf_counter()
    results = asyncio.run(send_all(served.port, bodies, args.concurrency))
    accept_seconds = time.perf_counter() - started
    if results.ok != len(bodies):
        raise SystemExit(f"{name}: answers {results.statuses}: {results.first_error!r}")
    grouped_seconds, groups = poll(check, started, args.timeout)
    return Outcome(
        name=name,
        accepted=results.ok,
        accept_seconds=accept_seconds,
        grouped_seconds=grouped_seconds,
        cpu_seconds=served.cpu() - cpu_before,
        rss_before=rss_before,
        rss_after=served.rss(),
        groups=groups,
        load=load_average(),
    )


def run_syncengine(args, folder: Path) -> Outcome:
    bodies = envelopes(args.events, args.fingerprints, TOKEN, "bench")
    config = write_syncengine_config(folder, token=TOKEN, extra="integration_active = false\n")
    port = free_port()
    command = syncengine_command(port, config)
    with Served(command, port=port, log=folder / "syncengine.log") as served:
        check = counted(
            folder / "data" / "syncengine.db",
            "SELECT COUNT(*), SUM(count) FROM error_groups",
            args.events,
        )
        return drive("syncengine", served, bodies, args, check)


_BUGSINK_OVERRIDES = """
BUGSINK["BASE_URL"] = "http://127.0.0.1:{port}"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
for _quota in ("MAX_EVENTS_PER_PROJECT_PER_5_MINUTES", "MAX_EVENTS_PER_PROJECT_PER_HOUR",
               "MAX_EVENTS_PER_5_MINUTES", "MAX_EVENTS_PER_HOUR"):
    BUGSINK[_quota] = 100_000_000
"""

_BUGSINK_PROJECT = """
import uuid
from teams.models import Team
from projects.models import Project
team = Team.objects.create(name="bench")
project = Project.objects.create(
    name="bench", team=team, sentry_key=uuid.UUID("{key}"), retention_max_event_count={events}
)
print(project.id)
"""


def run_bugsink(args, folder: Path) -> Outcome:
    bin_dir = ensure_bugsink(Path(args.venv), args.bugsink_version)
    port = free_port()
    base = folder / "bugsink"
    base.mkdir()
    conf = base / "bugsink_conf.py"
    subprocess.run(
        [
            str(bin_dir / "bugsink-create-conf"),
            "--template=singleserver",
            f"--host=127.0.0.1:{port}",
            f"--base-dir={base}",
            f"--output-file={conf}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with conf.open("a") as out:
        out.write(_BUGSINK_OVERRIDES.format(port=port))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bugsink_conf", "PYTHONPATH": str(base)}
    manage = str(bin_dir / "bugsink-manage")
    for database in ("default", "snappea"):
        subprocess.run(
            [manage, "migrate", f"--database={database}"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    created = subprocess.run(
        [manage, "shell", "-c", _BUGSINK_PROJECT.format(key=BUGSINK_KEY, events=args.events)],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    project_id = created.stdout.strip().splitlines()[-1]
    bodies = envelopes(args.events, args.fingerprints, BUGSINK_KEY, project_id)
    log = base / "server.log"
    snappea = subprocess.Popen(
        [str(bin_dir / "bugsink-runsnappea")],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    gunicorn = [
        str(bin_dir / "gunicorn"),
        f"--bind=127.0.0.1:{port}",
        f"--workers={args.workers}",
        "--access-logfile=/dev/null",
        "bugsink.wsgi",
    ]
    try:
        with Served(gunicorn, port=port, health="/", env=env, log=log, cwd=base) as served:
            check = counted(
                base / "db.sqlite3",
                "SELECT COUNT(*), SUM(digested_event_count) FROM issues_issue",
                args.events,
            )
            snap_cpu = tree_cpu(snappea.pid)
            snap_rss = tree_rss(snappea.pid)
            outcome = drive("bugsink", served, bodies, args, check)
            snap_cpu = tree_cpu(snappea.pid) - snap_cpu
            snap_rss_after = tree_rss(snappea.pid)
    finally:
        snappea.terminate()
        try:
            snappea.wait(timeout=60)
        except subprocess.TimeoutExpired:
            snappea.kill()
    return Outcome(
        **{
            **outcome.__dict__,
            "cpu_seconds": outcome.cpu_seconds + snap_cpu,
            "rss_before": outcome.rss_before + snap_rss,
            "rss_after": outcome.rss_after + snap_rss_after,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--fingerprints", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="Bugsink's gunicorn workers")
    parser.add_argument("--venv", default=str(DEFAULT_VENV), help="Bugsink's virtualenv")
    parser.add_argument("--bugsink-version", default="2.6.2")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for grouping")
    parser.add_argument("--only", choices=("syncengine", "bugsink"), help="run one side only")
    args = parser.parse_args()
    if args.fingerprints > args.events:
        raise SystemExit("--fingerprints must not exceed --events")

    print(
        f"{args.events:,} Sentry envelopes over {args.fingerprints:,} fingerprints, "
        f"{args.concurrency} connections, one event per request, {os.cpu_count()} cores"
    )
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.only != "bugsink":
            outcomes.append(run_syncengine(args, folder))
            print(_line(outcomes[-1]), flush=True)
        if args.only != "syncengine":
            outcomes.append(run_bugsink(args, folder))
            print(_line(outcomes[-1]), flush=True)
    if len(outcomes) == 2:
        ours, peer = outcomes
        print(
            f"syncengine / Bugsink: accepted {ours.accept_rate / peer.accept_rate:.1f}x, "
            f"end to end {ours.end_to_end / peer.end_to_end:.1f}x, "
            f"CPU per event {peer.cpu_seconds / ours.cpu_seconds:.1f}x less"
        )


def _line(o: Outcome) -> str:
    return (
        f"{o.name:<10}: accepted {o.accept_rate:,.0f} events/s ({o.accept_seconds:.1f}s); "
        f"all {o.accepted:,} grouped in {o.groups:,} groups at {o.grouped_seconds:.1f}s "
        f"= {o.end_to_end:,.0f} events/s end to end; {o.cpu_seconds:.1f} CPU-s "
        f"({o.cpu_seconds / o.accepted * 1000:.2f} ms/event); "
        f"RSS {o.rss_before:.0f} -> {o.rss_after:.0f} MiB; {o.load}"
    )


if __name__ == "__main__":
    main()
