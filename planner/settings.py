"""Settings and constants, each with its unit in the name and a documented default.

Run-time configuration comes from the environment (see :func:`env_config`); nothing
here is mutated at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Storage and interface CRS (lon, lat). Measuring CRSs belong to regions and networks
#: (:attr:`planner.region.Region.crs`, :mod:`planner.projection`).
WGS84 = "EPSG:4326"

DEFAULT_REGION = "mianyang"
#: Default width of a region's context band around its study area, km (a region file may
#: set its own ``context_km``): the network, neighbours' stations and drivers' questions
#: reach this far; metrics and new sites stay inside the study area.
DEFAULT_CONTEXT_KM = 50.0

#: Speed assumed between a point and the road network (off-corridor access), km/h.
ACCESS_SPEED_KMH = 30.0
#: Default coverage radius along corridors, km of road distance: a corridor point is covered
#: when a Driver's Home is within 30 km by road, about 25 min at expressway truck speed (half
#: the ~50 km service-area spacing rule of thumb of docs/domain.md §3, plus the exit detour).
DEFAULT_RADIUS_KM = 30.0
#: Largest spacing between Driver's Homes along a corridor, km. Reading of the national
#: 2025 action (交办运函〔2025〕1059号) as a *maximum* gap; see docs/domain.md §0 (inferred).
MAX_GAP_KM = 200.0
#: Longest continuous driving time before a >= 20 min stop (道路交通安全法实施条例 Art. 62(7)).
MAX_CONTINUOUS_DRIVE_H = 4.0
MIN_BREAK_MIN = 20.0
#: Sampling step along corridors for coverage, km (issue: at most every 1 km).
CORRIDOR_STEP_KM = 1.0

#: Default registry location: outside the repository, in the user's data directory.
DEFAULT_DB_PATH = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "yizhan" / "registry.sqlite"


def db_path() -> Path:
    """Path of the station registry: ``YIZHAN_DB`` or :data:`DEFAULT_DB_PATH`."""
    return Path(os.environ.get("YIZHAN_DB") or DEFAULT_DB_PATH)


def port() -> int:
    """HTTP port: ``PORT`` (default 5000)."""
    return int(os.environ.get("PORT", "5000"))

#: The planners' map shows this electric-truck scenario (range of a loaded e-truck, km, and
#: new megawatt sites); ``python -m planner charging`` explores any other.
EV_RANGE_KM = 200.0
EV_NEW_SITES = 3
