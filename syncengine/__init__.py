"""syncengine: crash reports in, Jira tickets out, both kept in step."""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
