"""HTTP batch ingest: a load generator against a real ``syncengine serve`` on SQLite.

Starts the server with a temporary config, then posts pre-built JSON Lines
batches (gzip, as pipelines send them) from several concurrent connections and
prints the rate at which reports were answered 202 (each answer comes after its
batch committed), plus the server's resident memory before and after.

    .venv/bin/python bench/ingest_http.py --reports 200000 --batch 1000 --concurrency 4

With more than 100,000 reports it also prints the server's memory at 100,000 and
at the end (it should stay flat: the writer bounds what waits in memory).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TOKEN = "bench-token-0123456789abcdef"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_bodies(reports: int, batch: int, fingerprints: int, zipf: bool) -> list[bytes]:
    rnd = random.Random(7)
    weights = [1 / (rank + 1) for rank in range(fingerprints)] if zipf else None
    population = range(fingerprints)
    bodies = []
    for start in range(0, reports, batch):
        n = min(batch, reports - start)
        picks = rnd.choices(population, weights=weights, k=n)
        lines = [
            json.dumps(
                {
                    "classifier": f"Error{fp % 97}",
                    "callstack": [f"fn_{fp}", "handler", "main"],
                    "attributes": {f"attr{a}": f"value{rnd.randrange(5)}" for a in range(10)},
                    "version": "1.0.0",
                },
                separators=(",", ":"),
            )
            for fp in picks
        ]
        bodies.append(gzip.compress("\n".join(lines).encode(), compresslevel=1))
    return bodies


async def post_all(
    url: str,
    bodies: list[bytes],
    concurrency: int,
    marks: dict[int, float] | None = None,
    pid: int = 0,
) -> int:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = 0
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/x-ndjson",
        "Content-Encoding": "gzip",
    }

    async def worker() -> None:
        nonlocal accepted
        async with httpx.AsyncClient(timeout=120) as client:
            while not queue.empty():
                body = queue.get_nowait()
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()
                before = accepted
                accepted += response.json()["accepted"]
                if marks is not None and before < 100_000 <= accepted:
                    marks[100_000] = rss_mib(pid)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--fingerprints", type=int, default=10_000)
    parser.add_argument("--zipf", action="store_true", help="Zipf-like mix instead of uniform")
    args = parser.parse_args()

    bodies = build_bodies(args.reports, args.batch, args.fingerprints, args.zipf)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(
            f'data_dir = "{tmp}/data"\nlog_level = "warning"\n'
            '[projects.bench]\nsubmission_token_env = "BENCH_TOKEN"\n',
            encoding="utf-8",
        )
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "syncengine",
                "--config",
                str(config),
                "serve",
                "--port",
                str(port),
            ],
            env={**os.environ, "BENCH_TOKEN": TOKEN},
            stdout=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            url = f"{base}/api/v1/projects/bench/reports"
            # Warm-up: first groups, interned names, caches.
            asyncio.run(post_all(url, bodies[:2], 1))
            before = rss_mib(server.pid)
            marks: dict[int, float] = {}
            started = time.perf_counter()
            accepted = asyncio.run(post_all(url, bodies, args.concurrency, marks, server.pid))
            elapsed = time.perf_counter() - started
            after = rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    mix = "zipf" if args.zipf else "uniform"
    print(
        f"HTTP ingest ({mix}, batches of {args.batch}, {args.concurrency} connections): "
        f"{accepted:,} reports in {elapsed:.1f}s = {accepted / elapsed:,.0f} reports/s; "
        f"server RSS {before:.0f} → {after:.0f} MiB"
    )
    if 100_000 in marks and accepted > 100_000:
        growth = (after - marks[100_000]) / marks[100_000] * 100
        print(
            f"server RSS at 100,000 reports {marks[100_000]:.0f} MiB, at {accepted:,} "
            f"{after:.0f} MiB ({growth:+.1f} %)"
        )


if __name__ == "__main__":
    main()
