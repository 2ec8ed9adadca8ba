"""Jira: the REST client and, in ``jira.simulator``, a stateful Jira stand-in."""
