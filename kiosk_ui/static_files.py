"""Static files: versioned URLs, long caching, compression.

Every file under ``static/`` is read once at start-up. Its version is a digest of what is
served, and a JavaScript module's relative imports are rewritten to carry the version of the
module they name (``./wardline.js`` becomes ``./wardline.js?v=…``), so a page's script URL
changes whenever anything it loads changes. A request that names the current version is
answered with ``Cache-Control: public, max-age=31536000, immutable``; any other with
``no-cache`` and an ``ETag`` to revalidate. Text is sent gzip-compressed to browsers that
accept it. Only the files read at start-up are served: nothing outside the folder can be named.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from kiosk_ui.errors import WebError

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_COMPRESSIBLE = (".js", ".css", ".html", ".json", ".svg", ".txt", ".map")
_IMPORT = re.compile(r"""((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.{1,2}/[^"'?#]+)\2""")
STATIC_FILES: web.AppKey[StaticFiles] = web.AppKey("wardline.static_files")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    version: str
    content_type: str


class StaticFiles:
    """The files of one folder, ready to serve."""

    def __init__(self, root: Path) -> None:
        self.root = root
        raw = {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file()
        }
        self.assets: dict[str, Asset] = {}
        for name in raw:
            self._build(name, raw, set())

    def _build(self, name: str, raw: dict[str, bytes], visiting: set[str]) -> Asset:
        if name in self.assets:
            return self.assets[name]
        body = raw[name]
        if name.endswith(".js") and name not in visiting:
            visiting.add(name)  # the modules being built, to stop on an import cycle
            try:
                body = self._versioned_imports(name, body, raw, visiting)
            finally:
                visiting.discard(name)
        version = hashlib.sha256(body).hexdigest()[:16]
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind = ("text/javascript" if name.endswith(".js") else kind) + "; charset=utf-8"
        gz = None
        if name.endswith(_COMPRESSIBLE) and len(body) > 512:
            gz = gzip.compress(body, compresslevel=9, mtime=0)
        asset = Asset(body, gz, version, kind)
        self.assets[name] = asset
        return asset

    def _versioned_imports(
        self, name: str, body: bytes, raw: dict[str, bytes], visiting: set[str]
    ) -> bytes:
        folder = Path(name).parent

        def versioned(match: re.Match[str]) -> str:
            prefix, quote, target = match.groups()
            resolved = _normalise(folder / target)
            if resolved not in raw or resolved in visiting:
                return match.group(0)
            version = self._build(resolved, raw, visiting).version
            return f"{prefix}{quote}{target}?v={version}{quote}"

        return _IMPORT.sub(versioned, body.decode("utf-8")).encode("utf-8")

    def url(self, filename: str) -> str:
        asset = self.assets.get(filename)
        if asset is None:
            raise KeyError(f"no static file {filename}")
        return f"/static/{filename}?v={asset.version}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        asset = self.assets.get(request.match_info["filename"])
        if asset is None:
            raise WebError("route.unknown", "no such page or endpoint")
        etag = f'"{asset.version}"'
        headers = {
            "ETag": etag,
            "Vary": "Accept-Encoding",
            "Cache-Control": IMMUTABLE if request.query.get("v") == asset.version else REVALIDATE,
        }
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        body = asset.body
        if asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        response = web.Response(body=body, headers=headers)
        response.headers["Content-Type"] = asset.content_type
        return response


def _normalise(path: Path) -> str:
    parts: list[str] = []
    for part in path.as_posix().split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def setup(app: web.Application, root: Path) -> None:
    """Serve ``root`` at ``/static`` and make the templates' ``url('static', filename=…)``
    give the versioned URL. Call after ``aiohttp_jinja2.setup``."""
    files = StaticFiles(root)
    app[STATIC_FILES] = files
    app.router.add_get("/static/{filename:.+}", files.handle, name="static")
    env = aiohttp_jinja2.get_env(app)
    route_url = env.globals["url"]

    @jinja2.pass_context
    def url(context: Any, route_name: str, **parts: Any) -> Any:
        if route_name == "static":
            return files.url(str(parts["filename"]))
        return route_url(context, route_name, **parts)  # type: ignore[operator]

    env.globals["url"] = url
