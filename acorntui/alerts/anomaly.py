"""The green that isn't (silent-success detection): see :mod:`acorntui.services.anomaly`.

The pass lives in the service layer because ingest, re-parse and re-evaluation run it; the
alerts (notifications, the nightly job) read what it stored. Re-exported here for them.
"""

from __future__ import annotations

from acorntui.services.anomaly import (
    AnomalyPass,
    human_size,
    judge,
    mark_night,
    mark_nights,
    settings,
    use_settings,
)

__all__ = ["AnomalyPass", "human_size", "judge", "mark_night", "mark_nights", "settings",
           "use_settings"]
