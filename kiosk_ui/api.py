"""A small route registry for ``/api/v1``: each endpoint names its roles and the pydantic models
that validate its body, query and answer; the same models generate the OpenAPI 3.1 document.

Why not a library: none of the maintained ones fits aiohttp with pydantic v2 (aiohttp-apispec
is marshmallow-based and unmaintained since 2022; the others are young single-author packages),
and pydantic's own ``models_json_schema`` already gives the schemas; this adds only the paths.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from kiosk_ui.auth import SignedIn, require
from kiosk_ui.errors import bad_body

PREFIX = "/api/v1"
M = TypeVar("M", bound=BaseModel)


class ErrorOut(BaseModel):
    """Every refused request: a stable id, a message for people, details."""

    error: str
    message: str
    details: dict[str, Any]


@dataclass
class ApiCall:
    """One validated request: the signed-in user (None on public endpoints) and its inputs."""

    request: web.Request
    user: SignedIn | None
    _body: BaseModel | None = None
    _query: BaseModel | None = None
    _params: BaseModel | None = None

    def body(self, model: type[M]) -> M:
        assert isinstance(self._body, model)
        return self._body

    def query(self, model: type[M]) -> M:
        assert isinstance(self._query, model)
        return self._query

    def params(self, model: type[M]) -> M:
        """The path parameters, validated by the endpoint's ``path`` model."""
        assert isinstance(self._params, model)
        return self._params

    def signed_in(self) -> SignedIn:
        assert self.user is not None
        return self.user

    def path(self, name: str) -> str:
        return self.request.match_info[name]


ApiHandler = Callable[[ApiCall], Awaitable[BaseModel | None]]


@dataclass
class Endpoint:
    method: str
    path: str
    handler: ApiHandler
    roles: tuple[str, ...] | None
    """None: public (no session needed); (): anyone signed in."""
    summary: str
    response: type[BaseModel] | None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    tags: tuple[str, ...] = ()
    path_model: type[BaseModel] | None = None
    """Types of the path parameters (all strings when None)."""

    async def handle(self, request: web.Request) -> web.Response:
        user = None if self.roles is None else await require(request, self.roles)
        call = ApiCall(request, user)
        if self.path_model is not None:
            call._params = self.path_model.model_validate(dict(request.match_info))
        if self.query is not None:
            call._query = self.query.model_validate(dict(request.query))
        if self.body is not None:
            call._body = self.body.model_validate(await _json(request))
        result = await self.handler(call)
        if self.response is None:
            return web.Response(status=204 if self.status == 200 else self.status)
        assert isinstance(result, self.response), f"{self.path} answered {type(result)}"
        return web.Response(
            status=self.status, text=result.model_dump_json(), content_type="application/json"
        )


async def _json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise bad_body("send the body as application/json")
    try:
        return json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_body("the body is not valid JSON") from exc


@dataclass
class Api:
    title: str = "Wardline"
    version: str = "1"
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        roles: tuple[str, ...] | None,
        summary: str,
        response: type[BaseModel] | None,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        status: int = 200,
        tags: tuple[str, ...] = (),
        path_params: type[BaseModel] | None = None,
    ) -> Callable[[ApiHandler], ApiHandler]:
        def register(handler: ApiHandler) -> ApiHandler:
            self.endpoints.append(
                Endpoint(
                    method.upper(),
                    PREFIX + path,
                    handler,
                    roles,
                    summary,
                    response,
                    body,
                    query,
                    status,
                    tags,
                    path_params,
                )
            )
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, endpoint.handle)
        document = self.openapi()

        async def openapi(request: web.Request) -> web.Response:
            return web.json_response(document)

        app.router.add_get(PREFIX + "/openapi.json", openapi)

    def openapi(self) -> dict[str, Any]:
        models: set[type[BaseModel]] = {ErrorOut}
        for e in self.endpoints:
            models.update(m for m in (e.body, e.response) if m is not None)
        ordered = sorted(models, key=lambda m: m.__name__)
        keys, defs = models_json_schema(
            [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
        )
        refs = {m: keys[(m, "validation")] for m in ordered}
        paths: dict[str, dict[str, Any]] = {}
        for e in self.endpoints:
            paths.setdefault(_openapi_path(e.path), {})[e.method.lower()] = _operation(e, refs)
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": defs.get("$defs", {}),
                "securitySchemes": {
                    "session": {"type": "apiKey", "in": "cookie", "name": "WARDLINE_SESSION"},
                    "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
                },
            },
        }


def _openapi_path(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without pydantic's title."""
    return {key: value for key, value in schema.items() if key != "title"}


def _operation(e: Endpoint, refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    error = {"application/json": {"schema": refs[ErrorOut]}}
    op: dict[str, Any] = {
        "operationId": e.handler.__name__,
        "summary": e.summary,
        "tags": list(e.tags),
        "responses": {
            "4XX": {"description": "refused: see the error id", "content": error},
        },
    }
    if e.response is not None:
        op["responses"][str(e.status)] = {
            "description": "done",
            "content": {"application/json": {"schema": refs[e.response]}},
        }
    else:
        op["responses"]["204" if e.status == 200 else str(e.status)] = {"description": "done"}
    typed = e.path_model.model_json_schema()["properties"] if e.path_model else {}
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _plain(typed.get(name, {"type": "string"})),
        }
        for name in re.findall(r"\{(\w+)", e.path)
    ]
    if e.query is not None:
        for name, info in e.query.model_fields.items():
            schema = cast(dict[str, Any], e.query.model_json_schema()["properties"][name])
            params.append(
                {"name": name, "in": "query", "required": info.is_required(), "schema": schema}
            )
    if params:
        op["parameters"] = params
    if e.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[e.body]}},
        }
    if e.roles is not None:
        op["security"] = [{"session": [], "csrf": []}] if e.method != "GET" else [{"session": []}]
        op["x-roles"] = list(e.roles) or ["any signed-in user"]
    else:
        op["security"] = []
    return op
