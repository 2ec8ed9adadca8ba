"""Support requests filed through the portal, turned into Jira issues, status pulled back."""

from __future__ import annotations
