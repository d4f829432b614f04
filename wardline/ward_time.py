"""Ward time: the time zone of each site (``Settings.timezone``, ``Settings.site_timezones``)
and the clinical times rendered in it. The server renders every clinical time a person reads;
pages show the strings as they are and never convert (a terminal's own zone may be anything).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from wardline.db.engine import Database
from wardline.db.models import Site, Ward
from wardline.settings import Settings

DEFAULT_ZONE = "Europe/Paris"


class WardTime:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.default = ZoneInfo(settings.timezone)
        self.by_site = {site: ZoneInfo(zone) for site, zone in settings.site_timezones.items()}
        self._ward_sites: dict[str, str] = {}

    def of_site(self, site_code: str | None) -> ZoneInfo:
        return self.by_site.get(site_code or "", self.default)

    async def of_ward(self, ward_code: str) -> ZoneInfo:
        """The zone of the ward's site (the inventory names the site of each ward)."""
        if not self.by_site:
            return self.default
        site = self._ward_sites.get(ward_code)
        if site is None:
            async with self.db.sessions() as s:
                site = await s.scalar(
                    select(Site.code)
                    .join(Ward, Ward.site_id == Site.id)
                    .where(Ward.code == ward_code)
                )
            if site is None:
                return self.default
            self._ward_sites[ward_code] = site
        return self.of_site(site)


def clock_text(moment: datetime, zone: ZoneInfo) -> str:
    """``HH:MM`` in ``zone``."""
    return moment.astimezone(zone).strftime("%H:%M")
