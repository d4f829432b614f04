"""The FHIR sandbox: an aiohttp app serving the subset of FHIR R4 Wardline uses.

Read, search with ``_count`` and offset paging (``next`` links), ``_include``, create with
conditional ``If-None-Exist`` (200 with the existing resource and no Location, as some servers
do; 412 when several match), OperationOutcome errors, bearer authentication with a static
token or tokens issued by an OAuth2 client-credentials endpoint (``/oauth/token``).
Like real servers it does not check codes: Wardline validates before sending.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ehr_bridge.sandbox.store import Resource, SandboxStore

FHIR_JSON = "application/fhir+json"
STORE = web.AppKey("fhir_sandbox_store", SandboxStore)
DEFAULT_PAGE = 20
MAX_PAGE = 100
WRITABLE = frozenset({"MedicationAdministration", "Observation"})


class SandboxAuth:
    """A static bearer token and/or OAuth2 clients issuing short-lived tokens."""

    def __init__(
        self,
        token: str | None = None,
        clients: dict[str, str] | None = None,
        token_lifetime: float = 300.0,
    ) -> None:
        self.static = token
        self.clients = clients or {}
        self.lifetime = token_lifetime
        self.issued: dict[str, float] = {}

    @property
    def required(self) -> bool:
        return bool(self.static or self.clients)

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        self.issued[token] = time.monotonic() + self.lifetime
        return token

    def accepts(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        if self.static and secrets.compare_digest(token, self.static):
            return True
        expiry = self.issued.get(token)
        return expiry is not None and expiry > time.monotonic()


AUTH = web.AppKey("fhir_sandbox_auth", SandboxAuth)


def outcome(status: int, code: str, text: str) -> web.Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return web.json_response(body, status=status, content_type=FHIR_JSON)


def _fhir(body: Resource, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, content_type=FHIR_JSON, headers=headers)


@web.middleware
async def _auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    auth = request.app[AUTH]
    request.app[STORE].requests[request.method] += 1
    public = request.path in {"/metadata", "/oauth/token"}
    if auth.required and not public and not auth.accepts(request.headers.get("Authorization", "")):
        return outcome(401, "login", "missing or invalid bearer token")
    response: web.StreamResponse = await handler(request)
    return response


async def metadata(request: web.Request) -> web.Response:
    kinds = sorted(request.app[STORE].resources)
    return _fhir(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{"mode": "server", "resource": [{"type": k} for k in kinds]}],
        }
    )


async def token(request: web.Request) -> web.Response:
    auth = request.app[AUTH]
    form = await request.post()
    client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    if request.headers.get("Authorization", "").lower().startswith("basic "):
        import base64

        raw = base64.b64decode(request.headers["Authorization"][6:]).decode()
        client_id, _, secret = raw.partition(":")
    if form.get("grant_type") != "client_credentials":
        return web.json_response({"error": "unsupported_grant_type"}, status=400)
    expected = auth.clients.get(client_id)
    if expected is None or not secrets.compare_digest(expected, secret):
        return web.json_response({"error": "invalid_client"}, status=401)
    return web.json_response(
        {"access_token": auth.issue(), "token_type": "Bearer", "expires_in": int(auth.lifetime)}
    )


async def read(request: web.Request) -> web.Response:
    kind, rid = request.match_info["type"], request.match_info["id"]
    found = request.app[STORE].get(kind, rid)
    if found is None:
        return outcome(404, "not-found", f"{kind}/{rid} is not known")
    return _fhir(found)


def _page_size(value: str | None) -> int:
    try:
        return max(0, min(MAX_PAGE, int(value))) if value else DEFAULT_PAGE
    except ValueError:
        return DEFAULT_PAGE


async def search(request: web.Request) -> web.Response:
    store, kind = request.app[STORE], request.match_info["type"]
    params = {k: v for k, v in request.query.items()}
    try:
        matches = store.search(kind, params)
    except ValueError as exc:
        return outcome(400, "invalid", f"bad search parameter: {exc}")
    count = _page_size(params.get("_count"))
    offset = int(params["_offset"]) if params.get("_offset", "").isdigit() else 0
    page = matches[offset : offset + count]
    entries = [
        {
            "fullUrl": f"{_base(request)}/{kind}/{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in page
    ]
    if params.get("_include"):
        for extra in store.includes(page, params["_include"]):
            entries.append(
                {
                    "fullUrl": f"{_base(request)}/{extra['resourceType']}/{extra['id']}",
                    "resource": extra,
                    "search": {"mode": "include"},
                }
            )
    links = [{"relation": "self", "url": str(request.url)}]
    if offset + count < len(matches) and count > 0:
        nxt = dict(params, _offset=str(offset + count), _count=str(count))
        url = str(request.url) if store.loop_paging else f"{_base(request)}/{kind}?{urlencode(nxt)}"
        links.append({"relation": "next", "url": url})
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches),
        "link": links,
        "entry": entries,
    }
    return _fhir(bundle)


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _refusal(store: SandboxStore, body: Resource) -> str | None:
    """Business rules of the sandbox: the reason it refuses a resource, or None."""
    subject = (body.get("subject") or {}).get("reference", "")
    kind, _, rid = subject.partition("/")
    if kind != "Patient" or store.get(kind, rid) is None:
        return f"subject {subject or '(none)'} is not a known Patient"
    return None


async def create(request: web.Request) -> web.Response:
    store, kind = request.app[STORE], request.match_info["type"]
    try:
        body = await request.json()
    except ValueError:
        return outcome(400, "structure", "the body is not JSON")
    if not isinstance(body, dict) or body.get("resourceType") != kind:
        return outcome(400, "structure", f"the body is not a {kind}")
    if kind not in WRITABLE:
        return outcome(405, "not-supported", f"creating {kind} is not supported here")
    condition = request.headers.get("If-None-Exist")
    if condition:
        query = {k: v for k, v in (p.partition("=")[::2] for p in condition.split("&"))}
        existing = store.search(kind, query)
        if len(existing) > 1:
            return outcome(412, "duplicate", f"{len(existing)} resources match {condition}")
        if len(existing) == 1:
            if store.minimal_replies:
                return web.Response(status=200)
            return _fhir(existing[0], status=200)  # no Location header, like some servers
    reason = _refusal(store, body)
    if reason is not None:
        return outcome(422, "processing", reason)
    stored = store.add({k: v for k, v in body.items() if k != "id"}, count=True)
    location = f"{_base(request)}/{kind}/{stored['id']}/_history/1"
    if store.minimal_replies:
        return web.Response(status=201, headers={"Location": location})
    return _fhir(stored, status=201, headers={"Location": location})


def sandbox_app(
    store: SandboxStore | None = None, auth: SandboxAuth | None = None
) -> web.Application:
    app = web.Application(middlewares=[_auth_middleware])
    app[STORE] = store or SandboxStore()
    app[AUTH] = auth or SandboxAuth()
    app.router.add_get("/metadata", metadata)
    app.router.add_post("/oauth/token", token)
    app.router.add_get("/{type:[A-Za-z]+}/{id:[A-Za-z0-9.-]+}", read)
    app.router.add_get("/{type:[A-Za-z]+}", search)
    app.router.add_post("/{type:[A-Za-z]+}", create)
    return app


class RunningSandbox:
    """The sandbox on a TCP port, stoppable and restartable on the same port (tests, demo)."""

    def __init__(
        self,
        store: SandboxStore,
        auth: SandboxAuth | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.store, self.auth, self.host, self.port = store, auth or SandboxAuth(), host, port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        runner = web.AppRunner(sandbox_app(self.store, self.auth), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        if self.port == 0:
            self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
