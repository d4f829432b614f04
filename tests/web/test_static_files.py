"""Static files: versioned URLs that change with what a page loads, long caching only for
the current version, gzip for browsers that accept it, nothing outside the folder."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import aiohttp

from kiosk_ui.static_files import IMMUTABLE, REVALIDATE, StaticFiles
from tests.web.conftest import WebLab


def _folder(tmp_path: Path, helper: str) -> StaticFiles:
    (tmp_path / "js").mkdir(exist_ok=True)
    (tmp_path / "js" / "page.js").write_text(
        'import { t } from "./shared.js";\nimport("../js/shared.js");\nconsole.log(t);\n'
    )
    (tmp_path / "js" / "shared.js").write_text(helper)
    return StaticFiles(tmp_path)


def test_a_module_version_follows_what_it_imports(tmp_path: Path) -> None:
    before = _folder(tmp_path, "export const t = 1;\n")
    after = _folder(tmp_path, "export const t = 2;\n")
    assert before.assets["js/shared.js"].version != after.assets["js/shared.js"].version
    assert before.url("js/page.js") != after.url("js/page.js")  # page.js itself is unchanged
    body = after.assets["js/page.js"].body.decode()
    shared = after.assets["js/shared.js"].version
    assert f'from "./shared.js?v={shared}"' in body
    assert f'import("../js/shared.js?v={shared}")' in body


async def test_pages_load_versioned_compressed_cacheable_files(weblab: WebLab) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(weblab.base + "/signin") as page:
            html = await page.text()
        css = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', html)
        assert css, html
        async with http.get(
            weblab.base + css.group(1), headers={"Accept-Encoding": "gzip"}, auto_decompress=False
        ) as r:
            raw = await r.read()
            assert r.status == 200 and r.headers["Cache-Control"] == IMMUTABLE
            assert r.headers["Content-Encoding"] == "gzip" and b"{" in gzip.decompress(raw)
            etag = r.headers["ETag"]
        plain = css.group(1).split("?")[0]
        async with http.get(weblab.base + plain, headers={"Accept-Encoding": "identity"}) as r:
            assert r.headers["Cache-Control"] == REVALIDATE and "Content-Encoding" not in r.headers
        async with http.get(weblab.base + plain, headers={"If-None-Match": etag}) as r:
            assert r.status == 304
        async with http.get(weblab.base + "/static/js/console.js") as r:
            assert re.search(r'"\./wardline\.js\?v=[0-9a-f]{16}"', await r.text())
        for bad in ("/static/../settings.py", "/static/%2e%2e/component.py", "/static/nope.js"):
            async with http.get(weblab.base + bad) as r:
                assert r.status == 404, bad
