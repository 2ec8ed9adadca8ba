"""Sync: the outbox worker, Jira pushes and pulls, webhooks, regressions."""
