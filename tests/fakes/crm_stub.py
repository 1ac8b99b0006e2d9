"""What the HubSpot and Salesforce stand-ins share: an aiohttp server on 127.0.0.1 with an
OAuth 2 authorization server (consent page that redirects back with `code` and `state`, a
token endpoint for the authorization_code and refresh_token grants, revocation), bearer access
tokens that expire on demand (401), and faults queued on demand (429 with Retry-After, 503).

Every request is recorded (`requests`), so tests check what our client sent on the wire.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlencode

from aiohttp import web

from tests.services import free_port


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: str | None = None
    path_prefix: str = ""  # only requests whose path starts with this (after OAuth, API calls)
    method: str = ""  # only requests with this method ("" any)
    after: bool = False  # do the work, then answer the fault: the client never hears it worked


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int = 0


@dataclass
class Tokens:
    client_id: str = "wingman-client"
    client_secret: str = "wingman-secret"
    codes: dict[str, str] = field(default_factory=dict)  # code -> redirect_uri
    access: set[str] = field(default_factory=set)
    refresh: set[str] = field(default_factory=set)


class CrmStandIn:
    """Subclasses add the CRM's API routes (`routes`) and its error bodies."""

    token_path = "/oauth/token"
    authorize_path = "/oauth/authorize"
    revoke_path = "/oauth/revoke"
    expires_in: int | None = 1800

    def __init__(self) -> None:
        self.port = free_port()
        self.oauth = Tokens()
        self.requests: list[Seen] = []
        self.faults: deque[Fault] = deque()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting
    def fail_next(self, *faults: Fault) -> None:
        """The next API requests (matching each fault's path prefix) get these answers."""
        self.faults.extend(faults)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far now answers 401 (the refresh token still works)."""
        self.oauth.access.clear()

    def revoke_all(self) -> None:
        """The admin revoked the app in the CRM: access and refresh tokens stop working."""
        self.oauth.access.clear()
        self.oauth.refresh.clear()

    def api_requests(self, method: str, prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # -- wire
    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def unauthorized(self) -> web.Response:
        raise NotImplementedError

    def fault_body(self, status: int) -> Any:
        return {"status": "error", "message": f"stand-in fault {status}"}

    def token_extra(self) -> dict[str, Any]:
        return {}

    async def __aenter__(self) -> Self:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get(self.authorize_path, self._authorize)
        app.router.add_post(self.token_path, self._token)
        self.routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        seen = Seen(
            request.method, request.path, dict(request.query), dict(request.headers), await request.read()
        )
        self.requests.append(seen)
        response = await self._answer(request, handler)
        seen.status = response.status
        return response

    async def _answer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        oauth = request.path in (
            self.authorize_path,
            self.token_path,
            self.revoke_path,
        ) or request.path.startswith(self.revoke_path)
        if not oauth:
            fault = self.faults[0] if self.faults else None
            if fault is not None and (
                not request.path.startswith(fault.path_prefix) or fault.method not in ("", request.method)
            ):
                fault = None
            auth = request.headers.get("Authorization", "")
            if fault is None or fault.after:
                if not self.public(request) and auth.removeprefix("Bearer ") not in self.oauth.access:
                    return self.unauthorized()
            if fault is not None:
                self.faults.popleft()
                if fault.after:
                    await handler(request)
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return web.json_response(self.fault_body(fault.status), status=fault.status, headers=headers)
        result: web.StreamResponse = await handler(request)
        return result

    def public(self, request: web.Request) -> bool:
        return False

    async def _authorize(self, request: web.Request) -> web.Response:
        """The consent page, already consented: back to redirect_uri with a code."""
        q = request.query
        if q.get("client_id") != self.oauth.client_id or not q.get("redirect_uri"):
            return web.json_response({"error": "invalid_client"}, status=400)
        code = secrets.token_urlsafe(12)
        self.oauth.codes[code] = q["redirect_uri"]
        location = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}"
        raise web.HTTPFound(location)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (
            form.get("client_id") != self.oauth.client_id
            or form.get("client_secret") != self.oauth.client_secret
        ):
            return web.json_response(
                {"error": "invalid_client", "error_description": "invalid client credentials"}, status=400
            )
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = str(form.get("code"))
            if self.oauth.codes.pop(code, None) != form.get("redirect_uri"):
                return self.bad_grant("invalid authorization code")
            refresh = secrets.token_urlsafe(16)
            self.oauth.refresh.add(refresh)
        elif grant == "refresh_token":
            if form.get("refresh_token") not in self.oauth.refresh:
                return self.bad_grant("expired access/refresh token")
            refresh = None
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        access = secrets.token_urlsafe(16)
        self.oauth.access.add(access)
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer", **self.token_extra()}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if refresh:
            body["refresh_token"] = refresh
        elif grant == "refresh_token":
            body |= self.refreshed_extra(str(form.get("refresh_token")))
        return web.json_response(body)

    def refreshed_extra(self, refresh_token: str) -> dict[str, Any]:
        return {}

    def bad_grant(self, why: str) -> web.Response:
        return web.json_response({"error": "invalid_grant", "error_description": why}, status=400)
