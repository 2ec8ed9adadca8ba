"""What the HTTP benchmarks share: a served process, its CPU and memory, the machine's load.

:class:`Served` starts a server as a subprocess (``syncengine serve`` with a
config written by :func:`syncengine_command`, Bugsink, or the minimal reference
server of ``bench/raw_http.py``), waits until it answers, and reads its
CPU-seconds (user + system, all threads) and resident memory from ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_average() -> str:
    """The 1-minute load average, to print beside every figure (the machine is shared)."""
    return f"load {os.getloadavg()[0]:.2f}"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` and all its threads (and reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (a gunicorn master and its workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_cpu(pid: int) -> float:
    """CPU-seconds of ``pid`` and every live process under it."""
    total = 0.0
    for each in descendants(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(each)
    return total


def tree_rss_each(pid: int) -> dict[int, float]:
    """Resident MiB of ``pid`` and of each live process under it, by pid."""
    found: dict[int, float] = {}
    for each in descendants(pid):
        with contextlib.suppress(OSError):
            found[each] = rss_mib(each)
    return found


def tree_rss(pid: int) -> float:
    """Resident MiB of ``pid`` and every live process under it."""
    total = 0.0
    for each in descendants(pid):
        with contextlib.suppress(OSError):
            total += rss_mib(each)
    return total


SIM_USER, SIM_TOKEN = "bot@example.com", "sim-api-token"  # the simulator's seeded API user


def jira_sim_command(port: int, state_dir: Path, python: str = sys.executable) -> list[str]:
    """A ``syncengine jira-sim`` server of its own (its CPU is then not the engine's)."""
    return [
        python, "-m", "syncengine", "jira-sim", "--port", str(port), "--state-dir", str(state_dir)
    ]  # fmt: skip


def syncengine_command(port: int, config: Path, python: str = sys.executable) -> list[str]:
    return [python, "-m", "syncengine", "--config", str(config), "serve", "--port", str(port)]


def write_syncengine_config(
    folder: Path, *, token: str, extra: str = "", jira_url: str = "", workers: int = 1
) -> Path:
    """A config with one project ``bench`` taking ``token``, its data under ``folder``.

    Its tickets carry the Severity the simulator's CRASH project requires (as
    ``config/syncengine.toml`` does): without it every create is refused and the worker's
    retries and kills would be part of what a bench measures. ``jira_url``: a
    ``syncengine jira-sim`` server (see :func:`jira_sim_command`) instead of the bundled
    simulator, as ``workers`` above 1 need.
    """
    site = (
        f'url = "{jira_url}", user = "{SIM_USER}", api_token = "{SIM_TOKEN}", ' if jira_url else ""
    )
    config = folder / "bench.toml"
    config.write_text(
        f'data_dir = "{folder}/data"\nlog_level = "warning"\nworkers = {workers}\n'
        f'[projects.bench]\nsubmission_tokens = ["{token}"]\n'
        f'jira = {{ {site}custom_fields = {{ customfield_10050 = "Major" }} }}\n'
        f"{extra}",
        encoding="utf-8",
    )
    return config


def jira_sim(folder: Path) -> Served:
    """A ``syncengine jira-sim`` process of its own (state under ``folder/sim``, log in
    ``folder/sim.log``), for ``write_syncengine_config(jira_url=...)``: ``with`` starts it."""
    port = free_port()
    return Served(
        jira_sim_command(port, folder / "sim"),
        port=port,
        health="/rest/api/2/serverInfo",
        log=folder / "sim.log",
    )


def wait_for_workers(log: Path, workers: int, label: str, timeout: float = 120.0) -> None:
    """Wait until ``serve --workers N`` logs all N listening (``/healthz`` answers once
    worker 0 listens); exits the bench when they are not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while f"({workers} workers)" not in log.read_text("utf-8", "replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"{label}: {workers} workers not listening in {timeout:.0f} s")
        time.sleep(0.2)


class Served:
    """A server subprocess; ``with Served(...) as s:`` starts it and stops it."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        port: int,
        health: str = "/healthz",
        env: dict[str, str] | None = None,
        log: Path | None = None,
        cwd: Path | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        self.command = list(command)
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self._health = health
        self._env = {**os.environ, **(env or {})}
        self._log = log
        self._cwd = cwd
        self._start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu(self) -> float:
        """CPU-seconds of the server and every process it started."""
        return tree_cpu(self.pid)

    def rss(self) -> float:
        """Resident MiB of the server and every process it started."""
        return tree_rss(self.pid)

    def rss_each(self) -> dict[int, float]:
        """Resident MiB of the server and of each process it started, by pid (forked
        workers share pages until written, so their sum counts those pages twice)."""
        return tree_rss_each(self.pid)

    def __enter__(self) -> Served:
        out = self._log.open("ab") if self._log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.command, env=self._env, stdout=out, stderr=subprocess.STDOUT, cwd=self._cwd
        )
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command[:3]} exited with {self.process.returncode}")
            try:
                if httpx.get(self.base + self._health, timeout=2).status_code < 500:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{self.command[:3]} did not answer within {self._start_timeout}s")

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
