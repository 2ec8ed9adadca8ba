"""A simulator served over a real socket (uvicorn in a thread) for synchronous clients.

The third-party Jira libraries speak ``requests``; they need a real HTTP server.
The test thread blocks on each call while the server thread answers it, so the
test may read the simulator's state between calls without locking.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import uvicorn

from syncengine.jira.simulator import Simulator, create_simulator


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class ServedSim:
    sim: Simulator
    url: str
    """Where Jira's REST root hangs: ``http://127.0.0.1:<port>[/jira]``."""


@contextmanager
def served(flavour: Literal["cloud", "datacenter"], context: str = "") -> Iterator[ServedSim]:
    """A seeded simulator on 127.0.0.1 at a free port, its base URL under ``context``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{context}"
    sim = create_simulator(flavour, base_url=url)
    config = uvicorn.Config(
        sim.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"jira-sim-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the simulator did not start on port {port}")
        time.sleep(0.01)
    try:
        yield ServedSim(sim=sim, url=url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
