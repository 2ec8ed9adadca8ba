"""``python -m syncengine`` runs the command line."""

from __future__ import annotations

from syncengine.entrypoints.cli import main

raise SystemExit(main())
