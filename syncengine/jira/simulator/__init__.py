"""A stateful Jira stand-in served over HTTP (Cloud or Data Center flavour).

Use :func:`create_simulator` to build one; ``sim.app`` is the ASGI app and the
returned :class:`Simulator` is the handle tests use to inspect state and inject
faults (``sim.client()`` / ``sim.transport()`` reach it in-process, failing like a
socket would). ``syncengine jira-sim`` serves a seeded one.

Outside the process the same controls are HTTP endpoints (not Jira's, not counted):

- ``GET|DELETE /_sim/counters``: calls per operation and status / reset them (and the log)
- ``GET /_sim/requests?since=S``: ``[seconds, "METHOD /path", status]`` of each call since S
  (the simulator's monotonic clock; ``now`` is its current reading)
- ``GET|POST|DELETE /_sim/quota`` ``{"points", "window", "everyone"}``: Jira Cloud's points
  quota for OAuth 2.0 apps, with its ``Beta-RateLimit*`` headers (``everyone``: API tokens too)
- ``GET|POST|DELETE /_sim/faults``, ``DELETE /_sim/faults/{id}``: fault rules
  (a :class:`FaultRule` as JSON; ``{"seed": n}`` re-seeds the generator)
- ``POST /_sim/tokens/revoke`` ``{"token"}``; ``POST /_sim/permissions``
  ``{"user", "project", "permission", "allowed"}``; ``POST /_sim/users``
- ``GET|POST /_sim/webhooks`` ``{"url", "secret", "events", "jql"}``,
  ``POST /_sim/webhooks/deliver``, ``GET|POST|DELETE /_sim/webhooks/faults``
  ``{"delay_seconds", "duplicate", "drop"}``: deliveries held, sent twice or given up on
- ``POST /_sim/issues/{key}/move`` ``{"project"}``, ``DELETE /_sim/issues/{key}``
- ``POST /_sim/clock/advance`` ``{"seconds"}`` (ManualClock only)
- ``GET|POST /_sim/search-lag`` ``{"seconds"}``: how long writes take to show in JQL search
- ``GET|POST /_sim/site`` ``{"hidden_emails", "rate_limits"}``: Cloud users whose profile hides
  their e-mail (each is named by accountId only), and whether the rate limits apply
"""

from __future__ import annotations

from syncengine.jira.simulator.app import create_simulator
from syncengine.jira.simulator.clock import Clock, ManualClock, SystemClock
from syncengine.jira.simulator.faults import FaultRule
from syncengine.jira.simulator.handle import SimTransport, Simulator
from syncengine.jira.simulator.limits import LimitsConfig
from syncengine.jira.simulator.model import Permission
from syncengine.jira.simulator.seed import DEFAULT_LOGIN, DEFAULT_TOKEN, default_login
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
    "default_login",
    "sign",
]
