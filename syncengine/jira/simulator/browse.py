"""The simulator's read-only issue page, ``/browse/{key}``: what a person sees in Jira.

Summary, the description rendered, the fields (type, status, resolution, priority,
people, labels, versions, dates, custom fields by name), attachments and the
comments. Nothing on it changes anything.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from syncengine.jira.simulator.html_text import adf_html, wiki_html
from syncengine.jira.simulator.model import Issue
from syncengine.jira.simulator.state import SimState

__all__ = ["issue_page", "page_routes", "rich_html"]

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#172b4d;background:#f4f5f7}
header{background:#0747a6;color:#fff;padding:.6rem 1.2rem;font-weight:600}
main{display:flex;gap:1.5rem;flex-wrap:wrap;padding:1.2rem;max-width:72rem}
article{flex:3 1 32rem;min-width:0;background:#fff;padding:1rem 1.4rem;border-radius:6px}
aside{flex:1 1 16rem;background:#fff;padding:1rem 1.2rem;border-radius:6px;align-self:start}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
.key{color:#5e6c84;font-size:.9rem}
.status{display:inline-block;padding:.1rem .5rem;border-radius:4px;font-weight:600;
 font-size:.8rem;text-transform:uppercase;background:#dfe1e6}
.status.indeterminate{background:#deebff;color:#0747a6}.status.done{background:#e3fcef;color:#006644}
dl{margin:0}dt{color:#5e6c84;font-size:.8rem;margin-top:.6rem}dd{margin:0;overflow-wrap:anywhere}
.description{overflow-x:auto}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #dfe1e6;padding:.2rem .5rem;
 text-align:left;vertical-align:top}th{background:#f4f5f7}
pre{background:#f4f5f7;padding:.6rem;overflow-x:auto;white-space:pre-wrap}
.comment{border-top:1px solid #dfe1e6;padding:.6rem 0}.who{font-weight:600}.when{color:#5e6c84}
"""


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def rich_html(value: Any) -> str:
    """A stored rich-text value (wiki string or ADF document) as HTML."""
    if isinstance(value, dict):
        return adf_html(value)
    if isinstance(value, str):
        return wiki_html(value)
    return ""


def _person(state: SimState, account: str | None) -> str:
    who = state.users.get(account or "")
    return escape(who.display_name) if who else "Unassigned"


def _value(state: SimState, field_id: str, stored: Any) -> str:  # noqa: PLR0911 - one branch per kind
    definition = state.fields.get(field_id)
    kind = definition.kind if definition else "string"
    if stored is None or stored == []:
        return "—"
    if kind == "option" and definition is not None:
        wanted = stored if isinstance(stored, str) else ""
        found = next((o.value for o in definition.options if o.id == wanted), wanted)
        return escape(found)
    if kind == "priority":
        return escape(getattr(state.priorities.get(stored), "name", str(stored)))
    if kind == "user":
        return _person(state, stored)
    if kind == "versions":
        versions = state.all_versions()
        return escape(", ".join(versions[v].name for v in stored if v in versions)) or "—"
    if kind == "labels":
        return escape(", ".join(str(label) for label in stored))
    if kind == "text":
        return rich_html(stored)
    return escape(str(stored))


def _fields(state: SimState, issue: Issue) -> list[tuple[str, str]]:
    status = state.statuses[issue.status_id]
    resolution = state.resolutions.get(issue.resolution_id or "")
    shown = [
        ("Type", escape(state.issue_types[issue.issuetype_id].name)),
        (
            "Status",
            f'<span class="status {escape(status.category.key)}">{escape(status.name)}</span>',
        ),
        ("Resolution", escape(resolution.name) if resolution else "Unresolved"),
    ]
    skip = {"summary", "description", "project", "issuetype", "status", "resolution"}
    for field_id, stored in issue.fields.items():
        if field_id in skip:
            continue
        definition = state.fields.get(field_id)
        name = definition.name if definition else field_id
        shown.append((escape(name), _value(state, field_id, stored)))
    shown += [
        ("Reporter", _person(state, issue.reporter)),
        ("Created", _when(issue.created)),
        ("Updated", _when(issue.updated)),
        ("Resolved", _when(issue.resolution_date) if issue.resolution_date else "—"),
    ]
    return shown


def issue_page(state: SimState, key: str) -> str | None:
    """The issue page of ``key`` (also a key it had before a move), or None if none."""
    issue = state.find_issue(key)
    if issue is None:
        return None
    summary = escape(str(issue.fields.get("summary") or ""))
    fields = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in _fields(state, issue))
    description = rich_html(issue.fields.get("description")) or "<p><em>No description</em></p>"
    comments = (
        "".join(
            f'<div class="comment"><span class="who">{_person(state, c.author)}</span> '
            f'<span class="when">{_when(c.created)}</span>{rich_html(c.body)}</div>'
            for c in issue.comments
        )
        or "<p><em>No comments</em></p>"
    )
    attachments = "".join(f"<li>{escape(a.filename)}</li>" for a in issue.attachments)
    project = state.project_by_id(issue.project_id)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>[{escape(issue.key)}] {summary}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head><body>"
        f"<header>Jira simulator · {escape(project.name)}</header><main><article>"
        f'<div class="key">{escape(project.key)} / {escape(issue.key)}</div>'
        f"<h1>{summary}</h1>"
        f'<h2>Description</h2><div class="description">{description}</div>'
        + (f"<h2>Attachments</h2><ul>{attachments}</ul>" if attachments else "")
        + f'<h2>Comments</h2><div class="comments">{comments}</div>'
        f"</article><aside><dl>{fields}</dl></aside></main></body></html>"
    )


def page_routes(state: SimState) -> list[Route]:
    """``GET /browse/{key}``: the issue page (404 when there is no such issue)."""

    async def browse(request: Request) -> Response:
        page = issue_page(state, str(request.path_params["key"]))
        if page is None:
            return HTMLResponse("<!doctype html><p>Issue does not exist.</p>", status_code=404)
        return HTMLResponse(page)

    return [Route("/browse/{key}", browse, methods=["GET"])]
