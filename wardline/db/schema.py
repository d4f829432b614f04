"""One metadata for the whole service: importing this module registers every table."""

from __future__ import annotations

from sqlalchemy import MetaData

from bedside import models as _bedside_models  # noqa: F401
from ehr_bridge import models as _ehr_models  # noqa: F401
from kiosk_ui import models as _kiosk_models  # noqa: F401
from telephony.calls import models as _telephony_models  # noqa: F401
from wardline.cluster import models as _cluster_models  # noqa: F401
from wardline.db import models as _core_models  # noqa: F401
from wardline.db.base import Base
from wardline.fanout import models as _fanout_models  # noqa: F401


def metadata() -> MetaData:
    return Base.metadata
