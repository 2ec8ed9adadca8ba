"""The composition root: settings in, a wired, immutable engine out.

:func:`bootstrap` (in :mod:`~syncengine.bootstrap.build`) builds everything in
order and returns a :class:`Container`; the modules beside it convert settings
into each service's values (:mod:`~syncengine.bootstrap.values`,
:mod:`~syncengine.bootstrap.jira_clients`, :mod:`~syncengine.bootstrap.template_sources`)
and wire two-way sync (:mod:`~syncengine.bootstrap.sync_services`).
"""

from __future__ import annotations

from syncengine.bootstrap.build import bootstrap, bundled_simulator, utcnow
from syncengine.bootstrap.container import Background, Container
from syncengine.bootstrap.startup import prepare_projects, schema_is_current, with_generated_admin

__all__ = [
    "Background",
    "Container",
    "bootstrap",
    "bundled_simulator",
    "prepare_projects",
    "schema_is_current",
    "utcnow",
    "with_generated_admin",
]
