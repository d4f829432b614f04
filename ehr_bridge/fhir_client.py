"""The FHIR R4 client: fhirpy's AsyncFHIRClient on ONE shared aiohttp session.

fhirpy 2.x opens a new ``aiohttp.ClientSession`` for every request (see
``fhirpy.base.lib_async.AsyncClient._do_request``); :class:`SharedSessionClient` overrides
that method to reuse the session the component owns, adds the current token on each request
(refreshed before expiry) and turns failures into the EHR error family. Searches follow
``next`` links up to a page limit and stop on a repeated link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from fhirpy import AsyncFHIRClient

from ehr_bridge.errors import FhirAuthError, FhirRefused, FhirUnreachable
from ehr_bridge.fhir_auth import NoToken, TokenSource

log = structlog.get_logger(__name__)

Resource = dict[str, Any]


def operation_outcome_text(body: Any, fallback: str) -> str:
    """The diagnostics of an OperationOutcome, joined; ``fallback`` when there is none."""
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        texts = [
            str(i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code"))
            for i in body.get("issue", [])
        ]
        if texts:
            return "; ".join(texts)[:1000]
    return fallback


@dataclass(frozen=True, kw_only=True)
class CreateResult:
    status: int
    resource: Resource | None
    server_id: str | None
    location: str | None


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    matches: list[Resource]
    included: list[Resource]
    pages: int
    truncated: bool


def _bundle(reply: Any) -> dict[str, Any]:
    if not isinstance(reply, dict) or reply.get("resourceType") != "Bundle":
        raise FhirRefused("fhir.bad_reply", "a search did not answer with a Bundle")
    return reply


class SharedSessionClient(AsyncFHIRClient):
    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        tokens: TokenSource | None = None,
        *,
        timeout: float = 5.0,
    ) -> None:
        super().__init__(url.rstrip("/"))
        self.session = session
        self.tokens: TokenSource = tokens or NoToken()
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.requests = 0

    async def _do_request(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        extra_headers: dict[str, str] | None = None,
        *,
        returning_status: bool = False,
    ) -> Any:
        status, body, _headers = await self.request(method, path, data, params, extra_headers)
        if 200 <= status < 300 or status == 304:
            return (body, status) if returning_status else body
        raise self._failure(status, body, f"{method.upper()} {path.split('?')[0]}")

    async def request(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """One HTTP exchange: (status, parsed JSON body or None, headers). Retries once
        with a new token after a 401."""
        url = self._build_request_url(path, params)
        for attempt in (1, 2):
            headers = self._build_request_headers()
            authorization = await self.tokens.authorization()
            if authorization:
                headers["Authorization"] = authorization
            if data is not None:
                headers["Content-Type"] = "application/fhir+json"
            headers.update(extra_headers or {})
            self.requests += 1
            try:
                async with self.session.request(
                    method,
                    url,
                    data=json.dumps(data) if data is not None else None,
                    headers=headers,
                    timeout=self.timeout,
                ) as response:
                    raw = await response.text()
                    status, reply_headers = response.status, dict(response.headers)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise FhirUnreachable(
                    "fhir.unreachable", f"the FHIR server did not answer ({type(exc).__name__})"
                ) from exc
            if status == 401 and attempt == 1:
                self.tokens.invalidate()
                continue
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            return status, body, reply_headers
        raise AssertionError("unreachable")

    def _failure(self, status: int, body: Any, what: str) -> Exception:
        reason = operation_outcome_text(body, f"HTTP {status}")
        if status in (401, 403):
            return FhirAuthError("fhir.unauthorized", f"{what}: {reason}", status=status)
        if status >= 500 or status == 429:
            return FhirUnreachable("fhir.server_error", f"{what}: {reason}", status=status)
        return FhirRefused("fhir.refused", reason, status=status)

    async def read(self, kind: str, rid: str) -> Resource | None:
        status, body, _ = await self.request("get", f"{kind}/{rid}")
        if status in (404, 410):
            return None
        if status != 200 or not isinstance(body, dict):
            raise self._failure(status, body, f"GET {kind}")
        return body

    async def search_all(
        self, kind: str, params: dict[str, Any], page_limit: int = 10
    ) -> SearchResult:
        """Every page of a search, following ``next`` links; never more than ``page_limit``
        pages and never the same link twice."""
        bundle = _bundle(await self._do_request("get", kind, params=params))
        matches: list[Resource] = []
        included: list[Resource] = []
        seen: set[str] = set()
        pages = 0
        while True:
            pages += 1
            entries = bundle.get("entry") or []
            for entry in entries if isinstance(entries, list) else []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(resource, dict):
                    continue
                search = entry.get("search")
                mode = search.get("mode", "match") if isinstance(search, dict) else "match"
                if mode == "include" or resource.get("resourceType") != kind:
                    included.append(resource)
                else:
                    matches.append(resource)
            links = bundle.get("link") or []
            next_url = next(
                (
                    link.get("url")
                    for link in (links if isinstance(links, list) else [])
                    if isinstance(link, dict) and link.get("relation") == "next"
                ),
                None,
            )
            if next_url is not None and not isinstance(next_url, str):
                next_url = None
            if not next_url:
                return SearchResult(
                    matches=matches, included=included, pages=pages, truncated=False
                )
            if next_url in seen or pages >= page_limit:
                log.warning(
                    "fhir.paging_stopped", kind=kind, pages=pages, repeated=next_url in seen
                )
                return SearchResult(matches=matches, included=included, pages=pages, truncated=True)
            seen.add(next_url)
            try:
                bundle = _bundle(await self._do_request("get", next_url))
            except ValueError as exc:  # fhirpy: a next link outside our base URL
                raise FhirRefused("fhir.foreign_link", "a next link leaves the FHIR base") from exc

    async def create_conditional(
        self, kind: str, resource: Resource, if_none_exist: str
    ) -> CreateResult:
        """POST with If-None-Exist. 201 created; 200 an existing match (with or without a
        Location header); 412 several matches (:class:`FhirRefused`); 4xx refusal."""
        status, body, headers = await self.request(
            "post", kind, data=resource, extra_headers={"If-None-Exist": if_none_exist}
        )
        if status in (200, 201):
            location = headers.get("Location") or headers.get("Content-Location")
            server_id = body.get("id") if isinstance(body, dict) else None
            if server_id is None and location:
                server_id = location.split(f"{kind}/", 1)[-1].split("/", 1)[0]
            return CreateResult(
                status=status,
                resource=body if isinstance(body, dict) else None,
                server_id=server_id,
                location=location,
            )
        if status == 412:
            raise FhirRefused(
                "fhir.multiple_matches",
                operation_outcome_text(body, "several resources match the identifier"),
                status=status,
            )
        raise self._failure(status, body, f"POST {kind}")
