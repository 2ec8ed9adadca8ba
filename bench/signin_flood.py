"""Ingest latency while sign-ins flood the server with wrong passwords (argon2 is costly).

Starts a real ``syncengine serve`` on SQLite, measures the latency of single-report
ingest requests alone (the reference), then again while ``--flooders`` clients post
failed sign-ins as fast as they can — each as a different user from a different
address (``X-Forwarded-For`` through a trusted local proxy), so the sign-in
throttle does not stop them and every one costs a password check. Prints both
latencies and their ratio.

    .venv/bin/python bench/signin_flood.py --flooders 12 --seconds 10

Run it against another checkout with ``PYTHONPATH=/path/to/checkout``: on a
version without ``[http]`` the local proxy is trusted by uvicorn's own default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from served import Served, free_port, syncengine_command

from syncengine.settings import Settings
from syncengine.web.passwords import hash_password

TOKEN = "bench-token-0123456789abcdef"


def write_config(folder: Path) -> Path:
    config = folder / "syncengine.toml"
    http = '[http]\ntrusted_proxies = ["127.0.0.1"]\n' if "http" in Settings.model_fields else ""
    config.write_text(
        f'data_dir = "{folder}/data"\nlog_level = "warning"\n{http}'
        f'[web]\nsession_secret = "{"s" * 40}"\n'
        f'[web.users.root]\npassword_hash = "{hash_password("the-right-password")}"\n'
        'role = "admin"\n'
        f'[projects.bench]\nsubmission_tokens = ["{TOKEN}"]\n'
        "[projects.bench.rules]\nenabled = false\n",
        encoding="utf-8",
    )
    return config


async def ingest_latencies(url: str, seconds: float) -> list[float]:
    report = json.dumps({"classifier": "E", "message": "m", "callstack": ["f", "main"]})
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            answer = await client.post(
                "/api/v1/projects/bench/reports",
                content=report,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            assert answer.status_code == 202, answer.text
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.05)
    return latencies


async def flood(url: str, index: int, stop: asyncio.Event, counts: dict[int, int]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        n = 0
        while not stop.is_set():
            n += 1
            address = f"10.{index}.{n // 250 % 250}.{n % 250 + 1}"
            headers = {"X-Forwarded-For": address}
            page = await client.get("/login", headers=headers)
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            if not found:
                continue
            answer = await client.post(
                "/login",
                data={
                    "username": f"guess{index}-{n}",
                    "password": "wrong",
                    "csrf_token": found.group(1),
                },
                headers=headers,
            )
            counts[answer.status_code] = counts.get(answer.status_code, 0) + 1
            client.cookies.clear()


async def measure(url: str, flooders: int, seconds: float) -> None:
    alone = await ingest_latencies(url, seconds)
    stop = asyncio.Event()
    counts: dict[int, int] = {}
    tasks = [asyncio.create_task(flood(url, i, stop, counts)) for i in range(flooders)]
    await asyncio.sleep(1)  # let the flood build up
    flooded = await ingest_latencies(url, seconds)
    stop.set()
    await asyncio.gather(*tasks)
    p50, p50f = statistics.median(alone), statistics.median(flooded)
    p95 = statistics.quantiles(alone, n=20)[-1]
    p95f = statistics.quantiles(flooded, n=20)[-1]
    print(
        f"ingest alone:   p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms  "
        f"({len(alone)} requests)"
    )
    print(
        f"during flood:   p50 {p50f * 1000:7.1f} ms   p95 {p95f * 1000:7.1f} ms  "
        f"({len(flooded)} requests; sign-in answers {dict(sorted(counts.items()))})"
    )
    print(f"ratio flood/alone: p50 {p50f / p50:.1f}x   p95 {p95f / p95:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flooders", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder))
        port = free_port()
        command = syncengine_command(port, config)
        with Served(command, port=port, log=Path(folder) / "server.log") as served:
            asyncio.run(measure(served.base, args.flooders, args.seconds))


if __name__ == "__main__":
    main()
