"""A stateful Jira stand-in served over HTTP (Cloud or Data Center flavour).

Use :func:`create_simulator` to build one; ``sim.app`` is the ASGI app and the
returned :class:`Simulator` is the handle tests use to inspect state and inject
faults. ``syncengine jira-sim`` serves a seeded one.
"""

from __future__ import annotations

from syncengine.jira.simulator.app import create_simulator
from syncengine.jira.simulator.clock import Clock, ManualClock, SystemClock
from syncengine.jira.simulator.faults import FaultRule
from syncengine.jira.simulator.handle import SimTransport, Simulator
from syncengine.jira.simulator.limits import LimitsConfig
from syncengine.jira.simulator.model import Permission
from syncengine.jira.simulator.seed import DEFAULT_LOGIN, DEFAULT_TOKEN
from syncengine.jira.simulator.webhooks import sign

__all__ = [
    "DEFAULT_LOGIN",
    "DEFAULT_TOKEN",
    "Clock",
    "FaultRule",
    "LimitsConfig",
    "ManualClock",
    "Permission",
    "SimTransport",
    "Simulator",
    "SystemClock",
    "create_simulator",
    "sign",
]
