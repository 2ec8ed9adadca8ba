"""The kinds of outbox work, each named once.

An outbox row's ``kind`` picks the handler the worker runs for it (the composition
root maps each kind to its handler); the store writes and queries rows by kind, and
the services queue them. All of them take these names from here.
"""

from __future__ import annotations

__all__ = [
    "DEAD_PASSES",
    "LATEST_WINS",
    "LINK_BACKLINK",
    "LINK_PULL",
    "LINK_PUSH",
    "LINK_REGRESSION",
    "PUSHING_KINDS",
    "SUPPORT_COMMENT",
    "SUPPORT_CREATE",
    "TICKET_CREATE",
]

TICKET_CREATE = "ticket.create"
"""Create (or find, after a lost answer) the Jira issue of an error group."""

LINK_PUSH = "link.push"
"""Push a linked group's state, assignee or fix versions to its issue."""

LINK_PULL = "link.pull"
"""Merge a linked issue's current state into its group (a webhook that could not wait)."""

LINK_REGRESSION = "link.regression"
"""Reopen (or re-file) the issue of a group that regressed, with a comment."""

LINK_BACKLINK = "link.backlink"
"""Comment on an issue a group was linked to (which group, counts, its page) and add a
remote link to the group page, once per link."""

SUPPORT_CREATE = "support.create"
"""Create the Jira issue of a portal support request."""

SUPPORT_COMMENT = "support.comment"
"""Add a requester's portal reply to the request's Jira issue as a comment (after the
request's ``support.create``: it waits for it)."""

PUSHING_KINDS = (LINK_PUSH, LINK_REGRESSION)
"""Kinds whose pending items are pushes the link's merge must not undo."""

LATEST_WINS = (LINK_PUSH, LINK_PULL, LINK_REGRESSION)
"""Kinds that merge the link's current values when they run: a later item of the link
carries the latest desired state, so a dead one never holds the link's later work back
(a dead regression's reopened state is the group's, which the next push carries; its
comment is left to the operator's retry)."""

DEAD_PASSES = (*LATEST_WINS, LINK_BACKLINK)
"""Kinds whose dead items hold nothing back: the link syncs (later ones carry the latest
state) and the back-link (a side comment: a comment Jira refuses for good must not stop
the group's pushes)."""
