"""One facade over a region, its station registry and its road network.

The CLI, the web app and the notebooks all go through :class:`Workspace`, so a
question ("nearest station from here", "coverage at 50 km") has one answer
whichever door it comes through.

Examples
--------
>>> ws = Workspace(db_path="/tmp/yizhan-demo.sqlite")      # doctest: +SKIP
>>> ws.nearest(104.75, 31.55, k=3, amenities=["shower"])   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

from planner import settings
from planner._validate import non_negative, positive, whole_number
from planner.coords import check_lonlat, to_wgs84
from planner.errors import InputError
from planner.provenance import needs_banner, status_of


class Workspace:
    """A region, the registry of its stations and its road network.

    Parameters
    ----------
    region : str
        Name of an embedded region (``geodata.REGIONS``).
    db_path : str or Path, optional
        Registry file; defaults to :func:`planner.settings.db_path` (``YIZHAN_DB``).
    create_db : bool
        Create and seed the registry from the region's embedded stations when the
        file does not exist. An existing file is never overwritten.
    network_path : str or Path, optional
        A road network saved by ``python -m planner import-osm``; by default the
        network is built from the region's corridors.
    demand_path, grid_path : str or Path, optional
        Real demand points (e.g. written by ``python -m planner import-gps``, read with
        :func:`planner.demand.read_demand`) and real service-grid polygons
        (:func:`planner.grid.read_grid`) that replace the region's embedded layers; their
        status (``approximate``/``verified``) replaces the embedded ``illustrative`` one.
    context_km : float, optional
        Width of the region's context band, km (default: the region file's, 50 km for
        Mianyang): how far outside the study area drivers' questions are answered.
    """

    def __init__(
        self,
        *,
        region: str = settings.DEFAULT_REGION,
        db_path: str | Path | None = None,
        create_db: bool = True,
        network_path: str | Path | None = None,
        demand_path: str | Path | None = None,
        grid_path: str | Path | None = None,
        context_km: float | None = None,
    ):
        self.region_name = region
        self.db_path = Path(db_path) if db_path is not None else settings.db_path()
        self.create_db = create_db
        self.network_path = Path(network_path) if network_path is not None else None
        self.demand_path = Path(demand_path) if demand_path is not None else None
        self.grid_path = Path(grid_path) if grid_path is not None else None
        self.context_km = context_km
        self._lock = threading.Lock()
        self._index = None
        self._index_generation = None
        self._vehicle_indexes: dict = {}  # vehicle key -> (generation, NearestIndex)

    # ------------------------------------------------------------------ data
    @cached_property
    def region(self):
        """The embedded region (:class:`planner.region.Region`)."""
        from planner.provenance import worst
        from planner.region import load_region

        region = load_region(self.region_name, context_km=self.context_km)
        if self.demand_path is not None:
            from planner.demand import read_demand

            region.demand = read_demand(self.demand_path)
            region.provenance["demand"] = {"data_status": worst(region.demand["data_status"]),
                                           "source": f"imported from {self.demand_path.name}"}
        if self.grid_path is not None:
            from planner.grid import read_grid

            region.grid = read_grid(self.grid_path, counties=region.counties)
            region.provenance["grid"] = {"data_status": worst(region.grid["data_status"]),
                                         "source": f"imported from {self.grid_path.name}"}
        return region

    @cached_property
    def registry(self):
        """The station registry, seeded from the region when it is new."""
        from planner.registry import Registry

        exists = self.db_path.exists()
        if not exists:
            if not self.create_db:
                from planner.errors import RegistryError

                raise RegistryError(
                    f"registry file {self.db_path} does not exist; run `python -m planner init-db` "
                    "or set YIZHAN_DB to an existing registry"
                )
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        registry = Registry(self.db_path, create=not exists)
        if not exists:
            registry.seed(self.region.stations, actor="seed")
        return registry

    @cached_property
    def network(self):
        """The road network: the region's corridors, or an imported OSM network."""
        from planner.network import RoadNetwork

        if self.network_path is not None:
            return RoadNetwork.load(self.network_path)
        return RoadNetwork.from_corridors(self.region.corridors, crs=self.region.crs)

    def uses_illustrative_data(self, stations: list[dict] | None = None) -> bool:
        """True while any station or layer in use is not verified (the UI shows a banner).

        ``stations`` (default: the registry's open ones) replace the embedded station layer,
        so a registry of verified records clears the station part of the banner.
        """
        return needs_banner(self.data_status(layers=[k for k in self.region.provenance if k != "stations"], stations=stations))

    def data_status(self, *, layers: Iterable[str] = ("corridors",), stations: list[dict] | None = None) -> str:
        """The worst ``data_status`` of the stations in use and of the region ``layers`` a result uses."""
        stations = self.stations() if stations is None else stations
        return status_of(stations, {name: self.region.provenance.get(name) for name in layers})

    def stations(self, *, include_retired: bool = False) -> list[dict]:
        """Station records from the registry (open ones unless ``include_retired``)."""
        return self.registry.list_stations(include_retired=include_retired)

    def index(self, vehicle=None):
        """A :class:`planner.access.NearestIndex` over the open stations as stored now.

        Rebuilt when the registry's generation changes, so a saved edit shows at once.
        ``vehicle`` (a :class:`~planner.network.vehicle.Vehicle` or text such as
        ``"49t,4.2m,18m"``; default the 49-t truck) picks the roads it may use: on a network
        with truck rules each vehicle gets its own index on its sub-network (cached); on
        the corridors every vehicle shares one.
        """
        from planner.access import NearestIndex
        from planner.network.vehicle import parse_vehicle

        v = parse_vehicle(vehicle)
        network = self.network.for_vehicle(v) if self.network.edge_rules else self.network
        if network is not self.network:
            generation = self.registry.generation()
            hit = self._vehicle_indexes.get(v.key())
            if hit is not None and hit[0] == generation:
                return hit[1]
            with self._lock:
                hit = self._vehicle_indexes.get(v.key())
                if hit is None or hit[0] != generation:
                    if len(self._vehicle_indexes) >= 4:  # one index per recent vehicle; oldest dropped
                        self._vehicle_indexes.pop(next(iter(self._vehicle_indexes)))
                    hit = (generation, NearestIndex(network, self.stations(), access_speed_kmh=settings.ACCESS_SPEED_KMH))
                    self._vehicle_indexes[v.key()] = hit
                return hit[1]
        generation = self.registry.generation()
        index = self._index
        if index is not None and self._index_generation == generation:
            return index
        with self._lock:
            if self._index is None or self._index_generation != generation:
                stations = self.stations()
                self._index = NearestIndex(
                    self.network, stations, access_speed_kmh=settings.ACCESS_SPEED_KMH
                )
                self._index_generation = generation
            return self._index

    def now(self) -> dt.datetime:
        """The current local time in the region (its time zone), for every "open now"."""
        return self.region.now()

    # ------------------------------------------------------------- checks
    def point(self, lon, lat, *, coords: str = "wgs84", name: str = "point") -> tuple[float, float]:
        """Validate a typed point, convert it to WGS-84 and check it lies in the region's study
        area or its context band (a driver just across the boundary is answered)."""
        return self._locate(lon, lat, coords=coords, name=name)[:2]

    def _locate(self, lon, lat, *, coords: str = "wgs84", name: str = "point") -> tuple[float, float, str]:
        """:meth:`point` and its zone, ``"study_area"`` or ``"context"`` (:meth:`Region.zone_of`)."""
        lon, lat = _typed_number(lon), _typed_number(lat)  # query strings arrive as text
        # InputError (with Chinese rules) for bad numbers or names
        lon_w, lat_w = check_lonlat(lon, lat) if coords == "wgs84" else to_wgs84(lon, lat, coords)
        region = self.region
        zone = region.zone_of(lon_w, lat_w)
        if zone is None:
            x0, y0, x1, y1 = region.band_bbox
            label = region.name_en or region.name
            zh = f"距{region.name_zh or label}超过 {region.context_km:g} 公里，超出服务范围；请检查经纬度顺序和坐标系（高德坐标为 GCJ-02）"
            raise InputError(
                f"{name} ({lon_w:.5f}, {lat_w:.5f}) is more than {region.context_km:g} km outside {label} "
                f"(answers reach lon {x0:.2f}–{x1:.2f}, lat {y0:.2f}–{y1:.2f}); check the order (lon first) "
                "and the coordinate system (GCJ-02 for points copied from Amap)",
                fields={"lon": "outside the region and its context band", "lat": "outside the region and its context band"},
                fields_zh={"lon": zh, "lat": zh},
            )
        return lon_w, lat_w, zone

    # ------------------------------------------------------------ questions
    def nearest(
        self,
        lon,
        lat,
        *,
        k=3,
        amenities: Iterable[str] = (),
        min_power_kw: float | None = None,
        coords: str = "wgs84",
        open_at: dt.time | None = None,
        vehicle=None,
    ) -> dict:
        """The ``k`` nearest open stations by road from a point (CLI/API JSON shape).

        ``vehicle`` (text such as ``"49t,4.2m,18m"``; default the 49-t truck) skips the
        roads it may not use; the answer names it in ``"vehicle"``.
        """
        from planner.network.vehicle import parse_vehicle

        lon_w, lat_w, zone = self._locate(lon, lat, coords=coords)
        k_int = whole_number(k, "k", minimum=1, maximum=50)
        if min_power_kw is not None:
            min_power_kw = non_negative(min_power_kw, "min_power_kw")
        v = parse_vehicle(vehicle)
        index = self.index(v)
        result = index.nearest(
            lon_w, lat_w, k=k_int, amenities=tuple(amenities), min_power_kw=min_power_kw, open_at=open_at, now=self.now()
        )
        result["vehicle"] = v.as_dict()
        # a driver in the context band is answered; say so (False: outside the city, within the band)
        result["origin"]["in_study_area"] = zone == "study_area"
        return result

    def route(self, lon, lat, station_id: str, *, coords: str = "wgs84", vehicle=None) -> list[tuple[float, float]]:
        """Road route from a point to a station for ``vehicle``, as (lon, lat) pairs."""
        lon_w, lat_w = self.point(lon, lat, coords=coords)
        self.registry.get(station_id)  # NotFoundError for unknown ids
        return self.index(vehicle).route(lon_w, lat_w, station_id)

    def along_route(
        self,
        orig: Sequence[float],
        dest: Sequence[float],
        *,
        detour_km: float = 5.0,
        amenities: Iterable[str] = (),
        min_power_kw: float | None = None,
        open_on_arrival: bool = False,
        coords: str = "wgs84",
        vehicle=None,
    ) -> dict:
        """Stations within ``detour_km`` of the road route between two points, in route order.

        The route and detours use only the roads ``vehicle`` may drive (default the 49-t
        truck); the answer names it in ``"vehicle"``. ``amenities`` and ``min_power_kw``
        filter the stations as for :meth:`nearest`. Each station says when the truck gets
        there if it leaves now (``arrives_at``, region time: now + ``at_drive_min``) and
        whether it is open then (``open_on_arrival``, ``opens_at``); ``open_on_arrival=True``
        keeps only those open on arrival, which is what "open" means on a trip.
        """
        from planner.network.vehicle import parse_vehicle
        from planner.stations import opening

        v = parse_vehicle(vehicle)
        o = self.point(*orig, coords=coords, name="from")
        d = self.point(*dest, coords=coords, name="to")
        detour = non_negative(detour_km, "detour_km")
        if detour > 100:
            raise InputError(
                f"detour_km must be at most 100, got {detour}", fields={"detour_km": "must be between 0 and 100"}
            )
        if min_power_kw is not None:
            min_power_kw = non_negative(min_power_kw, "min_power_kw")
        index = self.index(v)
        result = index.along_route(o, d, detour_km=detour, max_drive_h=settings.MAX_CONTINUOUS_DRIVE_H,
                                   amenities=tuple(amenities), min_power_kw=min_power_kw)
        now = self.now()
        kept = []
        for station in result["stations"]:
            arrive = now + dt.timedelta(minutes=station["at_drive_min"])
            station["arrives_at"] = arrive.isoformat(timespec="minutes")
            station["open_on_arrival"], station["opens_at"] = opening(index.hours_by_id.get(station["id"]), arrive)
            if station["open_on_arrival"] or not open_on_arrival:
                kept.append(station)
        result["stations"] = kept
        result["vehicle"] = v.as_dict()
        return result

    def coverage(
        self,
        *,
        radius_km: float = settings.DEFAULT_RADIUS_KM,
        amenities: Iterable[str] = (),
        min_power_kw: float | None = None,
        max_gap_km: float = settings.MAX_GAP_KM,
        samples: bool = False,
    ) -> dict:
        """Coverage of the corridors at road distance ``radius_km`` (CLI/API JSON shape)."""
        from planner.coverage import corridor_coverage

        from planner.provenance import label

        radius = positive(radius_km, "radius_km")
        result = corridor_coverage(
            self.network,
            self.index(),
            radius_km=radius,
            max_gap_km=positive(max_gap_km, "max_gap_km"),
            amenities=tuple(amenities),
            min_power_kw=None if min_power_kw is None else non_negative(min_power_kw, "min_power_kw"),
            samples=samples,
            study_area=self.region,
        )
        result.update(label(self.data_status(layers=("corridors",))))
        return result

    def grid_access(self, *, by: str = "grid", amenities: Iterable[str] = (), min_power_kw: float | None = None):
        """Demand-weighted access per service grid cell (``by="grid"``) or county."""
        from planner import coverage

        if by not in ("grid", "county"):
            raise InputError(f"by must be 'grid' or 'county', got {by!r}", fields={"by": "grid or county"})
        fn = coverage.grid_access if by == "grid" else coverage.county_access
        zones = self.region.grid if by == "grid" else self.region.counties
        return fn(zones, self.region.demand, self.network, self.index(), amenities=tuple(amenities),
                  min_power_kw=min_power_kw)

    def suggest(self, *, method: str, k: int | None = None, radius_km: float = settings.DEFAULT_RADIUS_KM, **options) -> dict:
        """New sites by ``method`` (kmeans, p-median, mclp, lscp) with before/after metrics."""
        from planner.scenario import suggest

        return suggest(
            self.region, self.network, self.stations(), method=method, k=k, radius_km=radius_km, **options
        )


def _typed_number(value):
    """A number typed as text (``"104.75"``) as a float; anything else unchanged for the checks."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
