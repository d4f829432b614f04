"""A real FHIR R4 engine for the tests: Medplum's FHIR router (``@medplum/fhir-router``) with
its in-memory repository behind a small Node HTTP server (``server.mjs``).

:func:`running_medplum` starts one on 127.0.0.1, port chosen by the system, and stops it (this
process only) on exit. The npm packages are installed on first use (``npm ci`` in this folder,
pinned by its lock file). Without Node, or when the install fails, the test skips saying why,
except with ``WARDLINE_REQUIRE_SERVICES=1`` (CI) where it fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services import services_required

FOLDER = Path(__file__).resolve().parent
SERVER = FOLDER / "server.mjs"
BASE_PATH = "/fhir/R4"


def _missing(message: str) -> None:
    if services_required():
        pytest.fail(f"{message} (WARDLINE_REQUIRE_SERVICES=1)")
    pytest.skip(message)


PACKAGES = ("core", "fhir-router", "definitions")


def _installed() -> bool:
    return all(
        (FOLDER / "node_modules" / "@medplum" / p / "package.json").exists() for p in PACKAGES
    )


def _install_once() -> None:
    """``npm ci`` in this folder the first time a test needs the peer (the README's test
    command works on a fresh machine that has Node and npm); one installer at a time."""
    npm = shutil.which("npm")
    if npm is None or _installed():
        return
    import fcntl

    with (FOLDER / ".install.lock").open("w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if not _installed():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=FOLDER,
                check=False,
                capture_output=True,
                timeout=600,
            )


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed: the Medplum FHIR peer cannot run")
    _install_once()
    for package in PACKAGES:
        if not (FOLDER / "node_modules" / "@medplum" / package / "package.json").exists():
            _missing(f"@medplum/{package} is not installed: run `npm ci` in {FOLDER}")
    assert node is not None
    return node


@dataclass
class MedplumPeer:
    base_url: str
    token: str | None
    process: subprocess.Popen[bytes]

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/fhir+json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def put_all(self, resources: Iterable[dict[str, Any]]) -> None:
        """Store resources with their own ids (FHIR update as create), one PUT each."""
        for resource in resources:
            url = f"{self.base_url}/{resource['resourceType']}/{resource['id']}"
            request = urllib.request.Request(
                url, data=json.dumps(resource).encode(), headers=self.headers(), method="PUT"
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as reply:
                    reply.read()
            except urllib.error.HTTPError as exc:
                raise AssertionError(
                    f"Medplum refused {resource['resourceType']}/{resource['id']}:"
                    f" {exc.code} {exc.read()[:500]!r}"
                ) from exc


@contextmanager
def running_medplum(token: str | None = None) -> Iterator[MedplumPeer]:
    """A Medplum peer for the ``with`` block (synchronous: usable by module-scoped fixtures
    and by the benchmark)."""
    node = node_or_skip()
    args = [node, str(SERVER), "--port", "0"] + (["--token", token] if token else [])
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(args, cwd=FOLDER, stdout=subprocess.PIPE, stderr=errors)
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line:
                process.wait(10)
                errors.seek(0)
                raise AssertionError(f"the Medplum peer did not start: {errors.read()[-2000:]!r}")
            port = int(json.loads(line)["port"])
            yield MedplumPeer(f"http://127.0.0.1:{port}{BASE_PATH}", token, process)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
