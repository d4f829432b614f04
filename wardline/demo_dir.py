"""The demo's data directory: kept between runs, never another's, one demo at a time.

A directory the demo creates holds a marker file; the demo refuses a non-empty directory
without it (so ``--data-dir ~/Documents`` cannot be mistaken for demo state), takes an
exclusive lock on it for as long as it runs (a second demo on the same directory is refused),
and ``--fresh`` removes only the files the demo itself writes.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from wardline.errors import ConfigError

MARKER = ".wardline-demo"
LOCK = "demo.lock"
LOG = "demo.log"
INVENTORY = "hospital.yaml"
# Everything the demo writes in its directory, and nothing else: what --fresh removes.
DEMO_FILES = (
    "wardline.db",
    "wardline.db-wal",
    "wardline.db-shm",
    "wardline.db-journal",
    INVENTORY,
    "session.key",
    LOG,
    "video-visit.txt",
)


class DemoDirectory:
    """Claim ``path`` for one demo run; :meth:`release` gives it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[str] | None = None
        self.first_start = False

    def claim(self, *, fresh: bool = False) -> DemoDirectory:
        path = self.path
        if path.exists() and not path.is_dir():
            raise ConfigError("demo.not_a_directory", f"{path} is a file, not a directory")
        if path.is_dir() and any(path.iterdir()) and not (path / MARKER).exists():
            raise ConfigError(
                "demo.foreign_directory",
                f"{path} is not empty and was not made by the demo: "
                "choose another --data-dir (the demo never deletes a directory it did not create)",
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / MARKER).touch()
        except OSError as exc:
            raise ConfigError("demo.data_dir", f"cannot use {path}: {exc.strerror}") from exc
        lock = (path / LOCK).open("a+", encoding="utf-8")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            lock.close()
            raise ConfigError(
                "demo.in_use",
                f"another demo is running on {path}: stop it first, or choose another --data-dir",
            ) from exc
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock = lock
        if fresh:
            for name in DEMO_FILES:
                (path / name).unlink(missing_ok=True)
        self.first_start = not (path / "wardline.db").exists()
        return self

    @property
    def log_file(self) -> Path:
        return self.path / LOG

    @property
    def inventory(self) -> Path:
        return self.path / INVENTORY

    def release(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
