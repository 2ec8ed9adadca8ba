"""The OAuth endpoints of the simulated site, at Jira's own paths.

OAuth 1.0a (Data Center): ``/plugins/servlet/oauth/{request-token,authorize,access-token}``.
OAuth 2.0: Data Center's ``/rest/oauth2/latest/{authorize,token}``; Cloud's
``auth.atlassian.com`` paths ``/authorize`` and ``/oauth/token`` and the gateway's
``/oauth/token/accessible-resources`` (all served by this one app). The consent pages
stand in for a signed-in browser: the form names the Jira user who allows the access.
``/_sim/oauth/*`` registers application links and clients, revokes grants, expires access
tokens and turns Basic auth off.
"""

from __future__ import annotations

import html
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from syncengine.jira.simulator.handle import Simulator
from syncengine.jira.simulator.model import User
from syncengine.jira.simulator.oauth import OAuth1Failure, OAuth2Failure

__all__ = ["oauth_admin_routes", "oauth_routes"]

_FORM = "application/x-www-form-urlencoded"


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _allow_form(action: str, hidden: dict[str, str], app_name: str) -> str:
    fields = "".join(
        f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
        for k, v in hidden.items()
    )
    return (
        f"<p><strong>{html.escape(app_name)}</strong> asks to read and write Jira data as you.</p>"
        f"<form method='post' action='{html.escape(action)}'>{fields}"
        "<label>Signed in as <input name='user' placeholder='username or e-mail'></label>"
        "<button type='submit' name='decision' value='allow'>Allow</button>"
        "<button type='submit' name='decision' value='deny'>Deny</button></form>"
    )


def _user(sim: Simulator, ref: str) -> User:
    user = sim.state.user_ref(ref) if ref else None
    if user is None:
        # No name given: the site's first administrator (the demo's bot) is signed in.
        user = next((u for u in sim.state.users.values() if u.admin and u.active), None)
    if user is None or not user.active:
        raise OAuth1Failure("permission_denied", 403)
    return user


def _oauth1_error(failure: OAuth1Failure) -> Response:
    return Response(
        f"oauth_problem={failure.problem}",
        status_code=failure.status,
        media_type=_FORM,
        headers={"WWW-Authenticate": f'OAuth realm="", oauth_problem="{failure.problem}"'},
    )


def _oauth2_error(failure: OAuth2Failure) -> Response:
    return JSONResponse(
        {"error": failure.error, "error_description": failure.description},
        status_code=failure.status,
    )


async def _form(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 64 * 1024:
        raise OAuth2Failure(413, "invalid_request", "body too large")
    if "json" in request.headers.get("content-type", ""):
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise OAuth2Failure(400, "invalid_request", "the body is not JSON") from None
        if not isinstance(data, dict):
            raise OAuth2Failure(400, "invalid_request", "the body must be a JSON object")
        return data
    form = await request.form()
    return {k: str(v) for k, v in form.items()}


def oauth_routes(sim: Simulator, *, prefix: str = "") -> list[Route]:
    """The OAuth endpoints (``prefix``: a Data Center context path such as ``/jira``)."""
    servers = sim.oauth

    def headers(request: Request) -> dict[str, str]:
        return {k.lower(): v for k, v in request.headers.items()}

    async def request_token(request: Request) -> Response:
        try:
            answer = servers.request_token("POST", str(request.url), headers(request))
        except OAuth1Failure as failure:
            return _oauth1_error(failure)
        return Response(answer, media_type=_FORM)

    async def authorize1(request: Request) -> Response:
        if request.method == "GET":
            token = request.query_params.get("oauth_token", "")
            pending = servers.pending_request(token)
            if pending is None:
                return _page("The request token is unknown or expired", "")
            return _page(
                "Welcome to Jira",
                _allow_form(request.url.path, {"oauth_token": token}, pending[0]),
            )
        form = await _form(request)
        if form.get("decision") != "allow":
            return _oauth1_error(OAuth1Failure("permission_denied", 403))
        try:
            verifier, target = servers.approve_request(
                str(form.get("oauth_token", "")), _user(sim, str(form.get("user", ""))).account_id
            )
        except OAuth1Failure as failure:
            return _oauth1_error(failure)
        if target == "oob":
            return _page(
                "Access approved",
                f"<p>Your verification code is '<code id='verifier'>{html.escape(verifier)}"
                "</code>'.</p>",
            )
        return RedirectResponse(target, status_code=302)

    async def access_token(request: Request) -> Response:
        try:
            answer = servers.access_token("POST", str(request.url), headers(request))
        except OAuth1Failure as failure:
            return _oauth1_error(failure)
        return Response(answer, media_type=_FORM)

    async def authorize2(request: Request) -> Response:
        try:
            if request.method == "GET":
                query = dict(request.query_params)
                client = servers.check_authorize(query)
                return _page(
                    "Allow access",
                    _allow_form(request.url.path, query, client.client_id),
                )
            form = {k: str(v) for k, v in (await _form(request)).items()}
            if form.pop("decision", "") != "allow":
                return _oauth2_error(OAuth2Failure(403, "access_denied", "the user denied access"))
            user = _user(sim, form.pop("user", ""))
            return RedirectResponse(servers.approve_code(form, user.account_id), status_code=302)
        except OAuth2Failure as failure:
            return _oauth2_error(failure)
        except OAuth1Failure:
            return _oauth2_error(OAuth2Failure(403, "access_denied", "no such Jira user"))

    async def token(request: Request) -> Response:
        try:
            return JSONResponse(servers.token(await _form(request)))
        except OAuth2Failure as failure:
            return _oauth2_error(failure)

    async def resources(request: Request) -> Response:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        user = (
            servers.authenticate_bearer(credentials.strip(), via_gateway=True)
            if scheme.lower() == "bearer"
            else None
        )
        if user is None:
            return JSONResponse({"code": 401, "message": "Unauthorized"}, status_code=401)
        state = sim.state
        return JSONResponse(
            [
                {
                    "id": state.cloud_id,
                    "url": state.site_url,
                    "name": state.site_url.split("//")[-1].split(".")[0],
                    "scopes": ["read:jira-work", "write:jira-work", "read:jira-user"],
                    "avatarUrl": f"{state.site_url}/avatar.png",
                }
            ]
        )

    if sim.flavour == "datacenter":
        base = f"{prefix}/plugins/servlet/oauth"
        return [
            Route(f"{base}/request-token", request_token, methods=["POST"]),
            Route(f"{base}/authorize", authorize1, methods=["GET", "POST"]),
            Route(f"{base}/access-token", access_token, methods=["POST"]),
            Route(f"{prefix}/rest/oauth2/latest/authorize", authorize2, methods=["GET", "POST"]),
            Route(f"{prefix}/rest/oauth2/latest/token", token, methods=["POST"]),
        ]
    return [
        Route("/authorize", authorize2, methods=["GET", "POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/token/accessible-resources", resources, methods=["GET"]),
    ]


def oauth_admin_routes(sim: Simulator) -> list[Route]:
    """``/_sim/oauth/*``: what a Jira administrator does in the UI for OAuth."""
    servers = sim.oauth

    async def body(request: Request) -> dict[str, Any]:
        data = json.loads(await request.body() or b"{}")
        if not isinstance(data, dict):
            raise TypeError("a JSON object body is expected")
        return data

    async def app_links(request: Request) -> Response:
        try:
            data = await body(request)
            servers.add_app_link(
                str(data["consumer_key"]), str(data["public_key"]), str(data.get("name", "app"))
            )
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"errorMessages": [str(exc)]}, status_code=400)
        return Response(status_code=204)

    async def clients(request: Request) -> Response:
        try:
            data = await body(request)
            servers.add_client(
                str(data["client_id"]), str(data["client_secret"]), str(data["redirect_uri"])
            )
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"errorMessages": [str(exc)]}, status_code=400)
        return Response(status_code=204)

    async def settings(request: Request) -> Response:
        data = await body(request)
        if "basic_auth" in data:
            servers.basic_auth_enabled = bool(data["basic_auth"])
        if "access_token_seconds" in data:
            servers.access_token_seconds = int(data["access_token_seconds"])
        if data.get("expire_access_tokens"):
            servers.expire_access_tokens()
        return JSONResponse(
            {
                "basic_auth": servers.basic_auth_enabled,
                "access_token_seconds": servers.access_token_seconds,
                "refreshes": servers.refreshes,
                "refused_refreshes": servers.refused_refreshes,
            }
        )

    async def revoke(request: Request) -> Response:
        data = await body(request)
        user = sim.state.user_ref(str(data.get("user", "")))
        if user is None:
            return JSONResponse({"errorMessages": ["no such user"]}, status_code=404)
        return JSONResponse({"revoked": servers.revoke_user(user.account_id)})

    return [
        Route("/_sim/oauth/applinks", app_links, methods=["POST"]),
        Route("/_sim/oauth/clients", clients, methods=["POST"]),
        Route("/_sim/oauth/settings", settings, methods=["GET", "POST"]),
        Route("/_sim/oauth/revoke", revoke, methods=["POST"]),
    ]
