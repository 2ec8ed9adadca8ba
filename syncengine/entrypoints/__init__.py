"""Entry points: the ``syncengine`` command line and the HTTP server it starts."""

from __future__ import annotations
