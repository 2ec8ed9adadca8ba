"""Single-event requests (real SDK traffic): events/s and server CPU per event, per wire format.

For each format (Sentry envelope, Sentry store, Backtrace ``/post``, native
single report) the same pre-built requests go, one event per request over
``--concurrency`` keep-alive connections, to:

- **raw**: the reference, ``bench/raw_http.py``'s bare asyncio server that reads
  each request and answers 200 (what the machine gives a Python intake that does
  no work at all, measured now, under the same load);
- **syncengine**: a real ``syncengine serve`` on SQLite with every ingest hook on
  (regression check, group history, ticket rules); the integration is Passive, so
  due tickets are queued in the outbox but not pushed (``--jira`` to push them to
  the bundled simulator too);
- **N workers** (with ``--workers N``): ``serve --workers N`` the same way, with a
  ``syncengine jira-sim`` process of its own (workers need a Jira URL; Passive never calls it);
  its CPU is every worker's and the supervisor's;
- **against** (with ``--against PATH``, repeatable): the same server from another
  checkout, e.g. the code before a change (run from that checkout, so it imports
  that code); ``vs against`` is against the first of them.

Each server answers 2xx only once its event is committed; after the run the
store is read back and the bench fails unless it holds exactly the accepted events.
Server CPU is user + system of the server process (all threads), from ``/proc``.

    .venv/bin/python bench/ingest_single.py --events 5000 --fingerprints 500 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from raw_http import request, send_all
from served import (
    Served,
    free_port,
    jira_sim,
    load_average,
    syncengine_command,
    wait_for_workers,
    write_syncengine_config,
)
from wire_events import FORMATS

TOKEN = "bench-token-0123456789abcdef"
_WARM_UP = 200


@dataclass(frozen=True)
class Run:
    label: str
    accepted: int
    elapsed: float
    cpu: float
    p50: float
    p99: float
    load: str
    stored: int | None = None

    @property
    def rate(self) -> float:
        return self.accepted / self.elapsed

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.accepted * 1000


def build(fmt: str, events: int, fingerprints: int, offset: int = 0) -> list[bytes]:
    rnd = random.Random(11)
    builder = FORMATS[fmt]
    out = []
    for n in range(offset, offset + events):
        path, headers, body = builder(rnd.randrange(fingerprints), n, key=TOKEN, project="bench")
        out.append(request("POST", path, body, headers))
    return out


def stored_events(data: Path) -> int:
    with sqlite3.connect(data / "syncengine.db") as conn:
        return int(conn.execute("SELECT COALESCE(SUM(count), 0) FROM error_groups").fetchone()[0])


def measure(label: str, served: Served, warm: list[bytes], timed: list[bytes], conc: int) -> Run:
    warmed = asyncio.run(send_all(served.port, warm, conc))
    if warmed.ok != len(warm):
        raise SystemExit(f"{label}: warm-up answers {warmed.statuses}: {warmed.first_error!r}")
    cpu = served.cpu()
    results = asyncio.run(send_all(served.port, timed, conc))
    cpu = served.cpu() - cpu
    if results.ok != len(timed):
        raise SystemExit(f"{label}: answers {results.statuses}: {results.first_error!r}")
    latencies = sorted(results.latencies)
    return Run(
        label=label,
        accepted=results.ok,
        elapsed=results.elapsed,
        cpu=cpu,
        p50=statistics.median(latencies),
        p99=latencies[int(len(latencies) * 0.99) - 1],
        load=load_average(),
    )


def run_syncengine(
    label: str,
    python_path: str | None,
    fmt: str,
    warm: list[bytes],
    timed: list[bytes],
    args,
    workers: int = 1,
) -> Run:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        extra = "" if args.jira else "integration_active = false\n"
        if args.ingest:
            extra = f"{extra}[ingest]\n" + "\n".join(args.ingest) + "\n"
        jira_url = ""
        if workers > 1:  # workers share no bundled simulator: one of its own, not counted
            jira_url = stack.enter_context(jira_sim(folder)).base
        config = write_syncengine_config(
            folder, token=TOKEN, extra=extra, jira_url=jira_url, workers=workers
        )
        port = free_port()
        env = {"PYTHONPATH": python_path} if python_path else {}
        # Run from the checkout measured: ``python -m`` puts the working directory first on
        # sys.path, so from this repository's root PYTHONPATH alone imported this code again.
        cwd = Path(python_path) if python_path else None
        with Served(
            syncengine_command(port, config),
            port=port,
            env=env,
            log=folder / "server.log",
            cwd=cwd,
        ) as served:
            if workers > 1:
                wait_for_workers(folder / "server.log", workers, label)
            run = measure(label, served, warm, timed, args.concurrency)
        stored = stored_events(folder / "data")
    expected = len(warm) + len(timed)
    if stored != expected:
        raise SystemExit(f"{label}: {expected} events answered 2xx, {stored} stored")
    return Run(**{**run.__dict__, "stored": stored})


def run_raw(fmt: str, warm: list[bytes], timed: list[bytes], conc: int) -> Run:
    port = free_port()
    command = [sys.executable, str(Path(__file__).with_name("raw_http.py")), str(port)]
    with Served(command, port=port, health="/") as served:
        return measure("raw", served, warm, timed, conc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="timed events per format")
    parser.add_argument("--fingerprints", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated")
    parser.add_argument(
        "--against",
        action="append",
        default=[],
        help="another checkout to measure the same way (repeatable)",
    )
    parser.add_argument("--jira", action="store_true", help="push tickets to the simulator too")
    parser.add_argument(
        "--ingest",
        action="append",
        default=[],
        help="an [ingest] setting, e.g. batch_max_delay_ms=0",
    )
    parser.add_argument("--no-raw", action="store_true", help="skip the raw reference")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="also measure `serve --workers N` (with a `syncengine jira-sim` process of its "
        "own, not counted as the server's CPU)",
    )
    args = parser.parse_args()

    print(
        f"{args.events:,} single-event requests per format over {args.fingerprints:,} "
        f"fingerprints, {args.concurrency} connections, {os.cpu_count()} cores"
    )
    header = (
        f"{'format':<16} {'server':<10} {'events/s':>9} {'CPU ms/ev':>9} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'vs raw':>7} {'vs against':>10}  machine"
    )
    print(header)
    for fmt in args.formats.split(","):
        warm = build(fmt, _WARM_UP, args.fingerprints, offset=10**7)
        timed = build(fmt, args.events, args.fingerprints)
        runs = [] if args.no_raw else [run_raw(fmt, warm, timed, args.concurrency)]
        runs.append(run_syncengine("syncengine", None, fmt, warm, timed, args))
        if args.workers > 1:
            label = f"{args.workers} workers"
            runs.append(run_syncengine(label, None, fmt, warm, timed, args, args.workers))
        for number, path in enumerate(args.against):
            label = "against" if number == 0 else f"against{number + 1}"
            runs.append(run_syncengine(label, path, fmt, warm, timed, args))
        raw = runs[0] if not args.no_raw else None
        against = runs[len(runs) - len(args.against)] if args.against else None
        for run in runs:
            vs_raw = f"{run.rate / raw.rate:.2f}" if raw else "-"
            vs_against = f"{run.rate / against.rate:.2f}" if against else "-"
            print(
                f"{fmt:<16} {run.label:<10} {run.rate:>9,.0f} {run.cpu_ms:>9.2f} "
                f"{run.p50 * 1000:>7.1f} {run.p99 * 1000:>7.1f} {vs_raw:>7} {vs_against:>10}"
                f"  {run.load}"
            )


if __name__ == "__main__":
    main()
