"""The instance's name: ``WARDLINE_INSTANCE_ID``, or the host name and process id (unique
on a machine at a time, so two processes on one host are two instances)."""

from __future__ import annotations

import os
import re
import socket

from wardline.settings import Settings


def instance_id(settings: Settings) -> str:
    if settings.instance_id:
        return settings.instance_id
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:80] or "host"
    return f"{host}:{os.getpid()}"
