"""Settings of the web edge (``WARDLINE_WEB_*``), with defaults: nothing must be configured."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDLINE_WEB_", extra="ignore", frozen=True)

    cookie_secure: bool = Field(
        default=False,
        description="Send the session cookie over HTTPS only (set it behind TLS).",
    )
    session_hours: float = Field(
        default=12.0, gt=0, description="Absolute lifetime of a staff session, in hours."
    )
    session_idle_minutes: float = Field(
        default=30.0, gt=0, description="A staff session ends after this long without a request."
    )
    signin_attempts: int = Field(
        default=10, ge=1, description="Sign-in attempts allowed per client address per window."
    )
    signin_window_seconds: float = Field(default=60.0, gt=0, description="Rate-limit window.")
