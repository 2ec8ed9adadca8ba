"""Pure decisions of syncengine: no I/O, no clocks, no frameworks.

Modules here import only the standard library (and jinja2's sandbox, for the
description templates); ``tests/test_architecture.py`` keeps it that way.
"""
