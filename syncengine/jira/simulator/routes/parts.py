"""What hangs off an issue: attachments, entity properties, remote links."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import Route

from syncengine.jira.simulator import render
from syncengine.jira.simulator.errors import JiraHttpError, bad_request, field_errors
from syncengine.jira.simulator.model import Attachment, Issue, Permission, RemoteLink
from syncengine.jira.simulator.pipeline import Api, Ctx, json_response

__all__ = ["routes"]

PROPERTY_MAX_CHARS = 32768


def _issue(ctx: Ctx) -> Issue:
    return ctx.state.issue(ctx.param("issueIdOrKey"), ctx.user)


def _attachment(ctx: Ctx) -> tuple[Issue, Attachment]:
    """The attachment of the path's ``id`` on an issue the user can browse; Jira's 404 else."""
    wanted = ctx.param("id")
    for issue in ctx.state.issues.values():
        for attachment in issue.attachments:
            if attachment.id == wanted:
                ctx.state.issue(issue.id, ctx.user)  # 404 unless the user can browse it
                return issue, attachment
    raise JiraHttpError(
        404, {"errorMessages": [f"The attachment with id '{wanted}' does not exist"], "errors": {}}
    )


async def get_attachment(ctx: Ctx) -> Response:
    _, attachment = _attachment(ctx)
    body = render.attachment(ctx.state, attachment, ctx.version)
    if ctx.state.flavour == "cloud":
        body["id"] = int(attachment.id)  # Cloud's AttachmentMetadata: a number, unlike the upload's
    return json_response(body)


async def attachment_content(ctx: Ctx) -> Response:
    """The file itself (``content`` of the attachment's JSON; Cloud's ``/attachment/content``)."""
    _, attachment = _attachment(ctx)
    return Response(attachment.content, media_type=attachment.mime_type)


async def delete_attachment(ctx: Ctx) -> Response:
    issue, attachment = _attachment(ctx)
    project = ctx.state.project_by_id(issue.project_id)
    ctx.state.require(ctx.user, project, Permission.ATTACH, "delete attachments")
    ctx.write_to(issue)
    issue.attachments = [a for a in issue.attachments if a.id != attachment.id]
    return Response(status_code=204)


async def add_attachments(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    if ctx.request.headers.get("x-atlassian-token", "").lower() != "no-check":
        raise JiraHttpError(403, "XSRF check failed", media_type="text/plain")
    project = ctx.state.project_by_id(issue.project_id)
    ctx.state.require(ctx.user, project, Permission.ATTACH, "create attachments")
    if "multipart/form-data" not in ctx.request.headers.get("content-type", ""):
        raise JiraHttpError(415, "Unsupported Media Type", media_type="text/plain")
    form = await ctx.request.form()
    uploads = [v for k, v in form.multi_items() if k == "file" and isinstance(v, UploadFile)]
    if not uploads:
        raise bad_request("No file was uploaded: send the content as multipart form field 'file'.")
    ctx.write_to(issue)
    now = ctx.state.clock.now()
    added: list[Attachment] = []
    for upload in uploads:
        content = await upload.read()
        attachment = Attachment(
            id=ctx.state.new_id(),
            filename=upload.filename or "attachment",
            mime_type=upload.content_type or "application/octet-stream",
            content=content,
            author=ctx.user.account_id,
            created=now,
        )
        issue.attachments.append(attachment)
        added.append(attachment)
    issue.updated = now
    await form.close()
    return json_response([render.attachment(ctx.state, a, ctx.version) for a in added])


async def property_keys(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    base = f"{ctx.state.base_url}/rest/api/{ctx.version}/issue/{issue.id}/properties"
    return json_response({"keys": [{"self": f"{base}/{k}", "key": k} for k in issue.properties]})


async def get_property(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    key = ctx.param("propertyKey")
    if key not in issue.properties:
        raise JiraHttpError(
            404, {"errorMessages": [f"The property with key '{key}' does not exist."], "errors": {}}
        )
    return json_response({"key": key, "value": issue.properties[key]})


async def set_property(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    key = ctx.param("propertyKey")
    if len(key) > 255:
        raise bad_request("The property key cannot be longer than 255 characters.")
    value = await ctx.json()
    if len(json.dumps(value)) > PROPERTY_MAX_CHARS:
        raise bad_request(
            f"The property value cannot be longer than {PROPERTY_MAX_CHARS} characters."
        )
    ctx.state.require(
        ctx.user, ctx.state.project_by_id(issue.project_id), Permission.EDIT, "edit issues"
    )
    ctx.write_to(issue)
    existed = key in issue.properties
    issue.properties[key] = value
    return Response(status_code=200 if existed else 201)


async def delete_property(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    key = ctx.param("propertyKey")
    if key not in issue.properties:
        raise JiraHttpError(
            404, {"errorMessages": [f"The property with key '{key}' does not exist."], "errors": {}}
        )
    ctx.write_to(issue)
    del issue.properties[key]
    return Response(status_code=204)


def _link_json(ctx: Ctx, issue: Issue, link: RemoteLink) -> dict[str, Any]:
    api = f"{ctx.state.base_url}/rest/api/{ctx.version}"
    body: dict[str, Any] = {"id": link.id, "self": f"{api}/issue/{issue.id}/remotelink/{link.id}"}
    if link.global_id:
        body["globalId"] = link.global_id
    return body | {k: v for k, v in link.body.items() if k not in ("globalId",)}


async def remote_links(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    wanted = ctx.query("globalId")
    links = [link for link in issue.remote_links if wanted is None or link.global_id == wanted]
    if wanted is not None:
        if not links:
            raise JiraHttpError(
                404, {"errorMessages": [f"No remote link with globalId '{wanted}'."], "errors": {}}
            )
        return json_response(_link_json(ctx, issue, links[0]))
    return json_response([_link_json(ctx, issue, link) for link in links])


async def get_remote_link(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    wanted = ctx.param("linkId")
    for link in issue.remote_links:
        if str(link.id) == wanted:
            return json_response(_link_json(ctx, issue, link))
    raise JiraHttpError(
        404, {"errorMessages": [f"No remote link with id '{wanted}'."], "errors": {}}
    )


async def _link_request(ctx: Ctx, issue: Issue) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body of a create or update, checked: (the body, the fields a link keeps)."""
    body = await ctx.json()
    obj = body.get("object") if isinstance(body, dict) else None
    if not isinstance(obj, dict) or not obj.get("url"):
        raise field_errors({"url": "'url' is required."})
    if not obj.get("title"):
        raise field_errors({"title": "'title' is required."})
    ctx.state.require(
        ctx.user, ctx.state.project_by_id(issue.project_id), Permission.LINK, "link issues"
    )
    ctx.write_to(issue)
    # Fields the request leaves out are set to null (Atlassian: "create or update").
    return body, {k: v for k, v in body.items() if k in ("application", "relationship", "object")}


async def add_remote_link(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    body, fields = await _link_request(ctx, issue)
    global_id = body.get("globalId")
    for link in issue.remote_links:
        if global_id and link.global_id == global_id:
            link.body = fields
            return json_response({"id": link.id, "self": _link_json(ctx, issue, link)["self"]}, 200)
    link = RemoteLink(id=int(ctx.state.new_id()), global_id=global_id, body=fields)
    issue.remote_links.append(link)
    issue.updated = ctx.state.clock.now()
    created = 201 if ctx.state.flavour == "cloud" else 200  # Data Center answers 200 either way
    return json_response({"id": link.id, "self": _link_json(ctx, issue, link)["self"]}, created)


async def update_remote_link(ctx: Ctx) -> Response:
    """``PUT /issue/{key}/remotelink/{linkId}``: replace the link's body; 204."""
    issue = _issue(ctx)
    wanted = ctx.param("linkId")
    link = next((link for link in issue.remote_links if str(link.id) == wanted), None)
    if link is None:
        raise JiraHttpError(
            404, {"errorMessages": [f"No remote link with id '{wanted}'."], "errors": {}}
        )
    body, fields = await _link_request(ctx, issue)
    link.body = fields
    if body.get("globalId"):
        link.global_id = str(body["globalId"])
    issue.updated = ctx.state.clock.now()
    return Response(status_code=204)


async def delete_remote_link(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    wanted = ctx.query("globalId")
    link_id = ctx.request.path_params.get("linkId")
    keep = [
        link
        for link in issue.remote_links
        if not (
            (wanted is not None and link.global_id == wanted)
            or (link_id is not None and str(link.id) == link_id)
        )
    ]
    if len(keep) == len(issue.remote_links):
        raise JiraHttpError(
            404, {"errorMessages": ["No remote link matches the request."], "errors": {}}
        )
    ctx.write_to(issue)
    issue.remote_links = keep
    return Response(status_code=204)


LINK_TYPES = ("Duplicate", "Blocks", "Relates", "Cloners")


async def add_issue_link(ctx: Ctx) -> Response:
    """``POST /issueLink``: ``outwardIssue`` <type outward> ``inwardIssue`` (for Duplicate,
    the outward issue duplicates the inward one)."""
    body = await ctx.json()
    if not isinstance(body, dict):
        raise bad_request("Can not deserialize the request: a JSON object expected.")
    kind = (body.get("type") or {}).get("name") if isinstance(body.get("type"), dict) else None
    if kind not in LINK_TYPES:
        raise JiraHttpError(
            404, {"errorMessages": [f"No issue link type with name '{kind}' found."], "errors": {}}
        )
    refs = [body.get(side) for side in ("outwardIssue", "inwardIssue")]
    issues: list[Issue] = []
    for ref in refs:
        wanted = (ref.get("key") or ref.get("id")) if isinstance(ref, dict) else None
        if not wanted:
            raise bad_request("Both outwardIssue and inwardIssue are required.")
        issues.append(ctx.state.issue(str(wanted), ctx.user))
    outward, inward = issues
    ctx.state.require(
        ctx.user, ctx.state.project_by_id(outward.project_id), Permission.LINK, "link issues"
    )
    ctx.write_to(outward)
    if (kind, inward.id) not in outward.issue_links:
        outward.issue_links.append((kind, inward.id))
    outward.updated = ctx.state.clock.now()
    return Response(status_code=201)


def routes(api: Api) -> list[Route]:
    content = [
        # Jira's own download URL (the ``content`` of an attachment), under the site root.
        api.route("GET", "/secure/attachment/{id}/{filename}", attachment_content, rest=False),
    ]
    if api.sim.flavour == "cloud":
        content.append(api.route("GET", "/attachment/content/{id}", attachment_content))
    return [
        *content,
        api.route("GET", "/attachment/{id}", get_attachment),
        api.route("DELETE", "/attachment/{id}", delete_attachment),
        api.route("POST", "/issue/{issueIdOrKey}/attachments", add_attachments),
        api.route("GET", "/issue/{issueIdOrKey}/properties", property_keys),
        api.route("GET", "/issue/{issueIdOrKey}/properties/{propertyKey}", get_property),
        api.route("PUT", "/issue/{issueIdOrKey}/properties/{propertyKey}", set_property),
        api.route("DELETE", "/issue/{issueIdOrKey}/properties/{propertyKey}", delete_property),
        api.route("POST", "/issueLink", add_issue_link),
        api.route("GET", "/issue/{issueIdOrKey}/remotelink", remote_links),
        api.route("POST", "/issue/{issueIdOrKey}/remotelink", add_remote_link),
        api.route("DELETE", "/issue/{issueIdOrKey}/remotelink", delete_remote_link),
        api.route("GET", "/issue/{issueIdOrKey}/remotelink/{linkId}", get_remote_link),
        api.route("PUT", "/issue/{issueIdOrKey}/remotelink/{linkId}", update_remote_link),
        api.route("DELETE", "/issue/{issueIdOrKey}/remotelink/{linkId}", delete_remote_link),
    ]
