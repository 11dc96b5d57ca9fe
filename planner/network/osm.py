"""Read OpenStreetMap extracts (``.osm.pbf``, ``.osm``, ``.osm.bz2``, ``.osm.gz``) in bounded memory.

Two streaming passes with pyosmium (libosmium does the parsing and decompression in C++):

1. the ways tagged ``highway=*`` (filtered in C++): a way a truck or van may drive keeps its
   node ids (one flat int64 array) and its tags reduced to a few numbers (speed, one-way
   direction, truck limits, access codes);
2. the nodes those ways use (an id filter in C++): their coordinates.

Everything else is numpy: node ids are mapped with ``searchsorted``, segments between
consecutive way nodes become directed edges (both directions unless one-way), lengths are
great-circle (haversine on the sphere of radius 6,371,009 m, exactly as osmnx computes
``length``), and with ``retain_all=False`` only the largest weakly connected component is kept.
No networkx graph of the file is built. Memory is a few dozen bytes per kept node and edge;
nodes of buildings and other non-road ways are never stored.

The tag rules (what is kept, how limits and units are read) are documented in ``docs/osm.md``.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from planner.errors import InputError
from planner.network.vehicle import ACCESS_VALUES, BELOW_DEFAULT, DENIED_ACCESS, RULE_COLUMNS

log = logging.getLogger(__name__)

#: Earth radius used for great-circle lengths, metres (osmnx's ``EARTH_RADIUS_M``).
EARTH_RADIUS_M = 6_371_009.0
#: OSM ``oneway`` values meaning one-way (osmnx's set, so both readers agree) and reversed.
ONEWAY_VALUES = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
REVERSED_VALUES = frozenset({"-1", "reverse", "T"})
#: Seconds between progress messages on long imports.
PROGRESS_EVERY_S = 10.0

SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".xml", ".osm.xml")

_ACCESS_CODE = {v: i for i, v in enumerate(ACCESS_VALUES)}
_OTHER = _ACCESS_CODE["other"]
#: Most specific key first (OSM access hierarchy: access > vehicle > motor_vehicle > hgv/goods).
_HGV_CHAIN = ("hgv", "motor_vehicle", "vehicle", "access")
_LIGHT_CHAIN = ("goods", "motor_vehicle", "vehicle", "access")
_NO_LIMIT = frozenset({"none", "no", "unsigned", "default", "unknown", "signals", "variable", "fixme", ""})
_NUM = r"(\d+(?:[.,]\d+)?|\.\d+)"
_WEIGHT_RE = re.compile(rf"{_NUM}\s*(t|tonnes?|tons?|kg|lbs?|st|cwt)?\.?", re.IGNORECASE)
_WEIGHT_UNIT_T = {"": 1.0, "t": 1.0, "tonne": 1.0, "tonnes": 1.0, "ton": 1.0, "tons": 1.0, "kg": 1e-3,
                  "lb": 0.45359237e-3, "lbs": 0.45359237e-3, "st": 0.90718474, "cwt": 0.0508023}
_METRIC_RE = re.compile(rf"{_NUM}\s*(m|cm|mm|km)?", re.IGNORECASE)
_METRIC_UNIT_M = {"": 1.0, "m": 1.0, "cm": 0.01, "mm": 0.001, "km": 1000.0}
_FEET_RE = re.compile(
    r"(?:(\d+(?:\.\d+)?)\s*(?:'|′|ft|feet|foot))?\s*(?:(\d+(?:\.\d+)?)\s*(?:\"|″|''|in|inch|inches))?",
    re.IGNORECASE,
)


# ------------------------------------------------------------------ tag parsing
def _parts(value: str) -> list[str]:
    return [p.strip() for p in str(value).split(";")]


def parse_weight_t(value: Any) -> float | None:
    """An OSM weight (``maxweight``, ``maxaxleload``) in tonnes.

    ``"10"``, ``"10 t"``, ``"7.5t"``, ``"7,5"``, ``"10000 kg"``, ``"6000 lbs"``, ``"12 st"``
    (short tons) are read; several values separated by ``;`` give the smallest. ``"none"``,
    ``"default"``, ``"unsigned"`` and similar give NaN (no limit), ``"below_default"`` gives
    :data:`BELOW_DEFAULT`; anything else ``None`` (unreadable; the caller decides).
    """
    return _parse_limit(value, _one_weight)


def parse_length_m(value: Any) -> float | None:
    """An OSM height or length (``maxheight``, ``maxlength``) in metres.

    Metric (``"3.5"``, ``"3.5 m"``, ``"3,5"``, ``"350 cm"``) and imperial forms (``12'6"``,
    ``12 ft 6 in``, ``14'``, ``"13 ft"``) are read; otherwise as :func:`parse_weight_t`.
    """
    return _parse_limit(value, _one_length)


def _parse_limit(value: Any, one) -> float | None:
    if value is None:
        return float("nan")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
        return v if math.isfinite(v) and v > 0 else None
    found = []
    for part in _parts(value):
        low = part.lower()
        if low in _NO_LIMIT:
            found.append(float("nan"))
            continue
        if low == "below_default":
            found.append(BELOW_DEFAULT)
            continue
        v = one(part)
        if v is None or not (math.isfinite(v) and v > 0):
            return None
        found.append(v)
    real = [v for v in found if v > 0]
    if real:
        return min(real)
    if BELOW_DEFAULT in found:
        return BELOW_DEFAULT
    return float("nan")


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _one_weight(part: str) -> float | None:
    m = _WEIGHT_RE.fullmatch(part)
    if not m:
        return None
    return _number(m.group(1)) * _WEIGHT_UNIT_T[(m.group(2) or "").lower()]


def _one_length(part: str) -> float | None:
    m = _METRIC_RE.fullmatch(part)
    if m:
        return _number(m.group(1)) * _METRIC_UNIT_M[(m.group(2) or "").lower()]
    m = _FEET_RE.fullmatch(part)
    if m and (m.group(1) or m.group(2)):
        return (float(m.group(1) or 0) * 12 + float(m.group(2) or 0)) * 0.0254
    return None


def access_value(tags: Any, chain: tuple[str, ...]) -> str:
    """The access value of the most specific key of ``chain`` present in ``tags`` (or "")."""
    for key in chain:
        v = tags.get(key)
        if v is not None:
            v = v.split(";")[0].strip().lower()
            return v if v in _ACCESS_CODE else "other"
    return ""


# ------------------------------------------------------------------ the result
@dataclass
class OsmRoads:
    """Arrays of a road network read from OSM (input of :class:`~planner.network.RoadNetwork`)."""

    node_id: np.ndarray  # int64 OSM ids, one per node
    node_lon: np.ndarray
    node_lat: np.ndarray
    edge_u: np.ndarray  # int64 positions in the node arrays
    edge_v: np.ndarray
    edge_length_m: np.ndarray  # great-circle, metres
    edge_speed_kmh: np.ndarray
    edge_ref: np.ndarray  # object (str)
    rules: dict[str, np.ndarray]  # RULE_COLUMNS, one entry per edge
    edge_way: np.ndarray  # int64 OSM way id of each edge
    stats: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------ reading
def _check_file(p: Path) -> None:
    """A clear error for a missing file or one whose bytes are not what its name says."""
    if not p.is_file():
        raise InputError(
            f"OSM file not found: {str(p)!r}",
            fields={"path": "an existing .osm.pbf, .osm, .osm.bz2 or .osm.gz file"},
        )
    name = p.name.lower()
    if not any(name.endswith(s) for s in SUFFIXES):
        raise InputError(
            f"{p.name}: unknown OSM file type; name it .osm.pbf, .osm, .osm.bz2 or .osm.gz",
            fields={"path": "*.osm.pbf | *.osm | *.osm.bz2 | *.osm.gz"},
        )
    with open(p, "rb") as fh:
        head = fh.read(16)
    if not head:
        raise InputError(f"{p.name} is empty", fields={"path": "a non-empty OSM file"})
    if name.endswith(".gz") and head[:2] != b"\x1f\x8b":
        raise InputError(f"{p.name} is not gzip-compressed although its name ends in .gz", fields={"path": "gzip data"})
    if name.endswith(".bz2") and head[:3] != b"BZh":
        raise InputError(f"{p.name} is not bzip2-compressed although its name ends in .bz2", fields={"path": "bzip2 data"})
    if name.endswith(".pbf") and (head.lstrip()[:1] == b"<" or head[:2] == b"\x1f\x8b"):
        raise InputError(f"{p.name} is not an OSM PBF file (it looks like XML or gzip); name it for what it is", fields={"path": "OSM PBF data"})
    if name.endswith((".osm", ".xml")):
        if head.lstrip()[:1] != b"<":
            raise InputError(f"{p.name} is not OSM XML (it does not start with '<')", fields={"path": "OSM XML"})


def _osmium_error(p: Path, exc: Exception) -> InputError:
    msg = str(exc).strip() or type(exc).__name__
    return InputError(
        f"cannot read {p.name}: {msg}. The file may be truncated, corrupt, or not the format its name says",
        fields={"path": "a complete, readable OSM file"},
    )


class _Progress:
    def __init__(self, p: Path, what: str):
        self.p, self.what = p, what
        self.t0 = self.last = time.monotonic()

    def tick(self, count: int, total: str = "") -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            log.info("%s: %s %s read%s (%.0f s)", self.p.name, f"{count:,}", self.what, total, now - self.t0)


def read_osm(
    path: str | Path,
    *,
    highway_speed_kmh: dict[str, float],
    speed_of: Any,
    retain_all: bool = False,
    cut_ways: bool = False,
) -> OsmRoads:
    """Read the drivable roads of an OSM file.

    Parameters
    ----------
    path
        ``.osm.pbf``, ``.osm``, ``.osm.bz2`` or ``.osm.gz``.
    highway_speed_kmh
        The ``highway`` values kept (keys) with their default speeds.
    speed_of
        ``speed_of(tags_dict) -> km/h`` for one way (the caller's speed rules and cap).
    retain_all
        Keep every weakly connected component (``False``: the largest only).
    cut_ways
        The extract was cut by a bounding box or polygon without completing its ways (e.g.
        BBBike, ``osmium extract --strategy simple``): its edge ways reference nodes it does
        not hold. Keep the segments of such ways between nodes in the file, drop the
        segments that touch a missing node, and count those nodes in ``stats``
        (``False``: refuse the file).

    Raises
    ------
    InputError
        Missing file, a file that is not what its name says, truncated or corrupt data, a
        way that references a node absent from the file, or no drivable road.
    """
    import osmium

    p = Path(path)
    _check_file(p)
    ref_codes: dict[str, int] = {"": 0}
    way_len = array("q")
    way_id = array("q")
    way_dir = array("b")  # 0 both ways, 1 forward only, -1 reverse only
    way_speed = array("d")
    way_ref = array("l")
    limits = {k: array("f") for k in ("maxweight_t", "maxheight_m", "maxlength_m", "maxaxleload_t")}
    hgv_code = array("b")
    access_code = array("b")
    stats = {"ways_read": 0, "ways_kept": 0, "unreadable_limits": 0}
    keep_highway = frozenset(highway_speed_kmh)
    progress = _Progress(p, "highway ways")

    # ---- pass 1: the drivable ways
    try:
        fp = osmium.FileProcessor(str(p), osmium.osm.WAY).with_filter(osmium.filter.KeyFilter("highway"))
        for w in fp:
            stats["ways_read"] += 1
            if stats["ways_read"] % 4096 == 0:
                progress.tick(stats["ways_read"])
            t = dict(w.tags)  # one pass over the tags in C++; plain dict lookups after
            if t.get("highway") not in keep_highway or t.get("area") == "yes":
                continue
            n_nodes = len(w.nodes)
            if n_nodes < 2:
                continue
            hv = access_value(t, _HGV_CHAIN)
            lv = access_value(t, _LIGHT_CHAIN)
            if hv in DENIED_ACCESS and lv in DENIED_ACCESS:
                continue  # no vehicle of ours may use it
            oneway = t.get("oneway")
            if oneway in ONEWAY_VALUES or t.get("junction") == "roundabout":
                direction = -1 if oneway in REVERSED_VALUES else 1
            else:
                direction = 0
            vals = {}
            for key, parse, tag_keys in (
                ("maxweight_t", parse_weight_t, ("maxweight", "maxweight:hgv")),
                ("maxheight_m", parse_length_m, ("maxheight", "maxheight:physical")),
                ("maxlength_m", parse_length_m, ("maxlength", "maxlength:hgv")),
                ("maxaxleload_t", parse_weight_t, ("maxaxleload",)),
            ):
                best = float("nan")
                for tk in tag_keys:
                    raw = t.get(tk)
                    if raw is None:
                        continue
                    v = parse(raw)
                    if v is None:
                        stats["unreadable_limits"] += 1
                        log.debug("way %d: unreadable %s=%r (ignored)", w.id, tk, raw)
                        continue
                    if math.isnan(best) or (v > 0 and (best == BELOW_DEFAULT or v < best)):
                        best = v
                vals[key] = best
            way_len.append(n_nodes)
            way_id.append(w.id)
            way_dir.append(direction)
            way_speed.append(speed_of(t))
            r = t.get("ref", "")
            way_ref.append(ref_codes.setdefault(r, len(ref_codes)))
            for key, v in vals.items():
                limits[key].append(v)
            hgv_code.append(_ACCESS_CODE[hv])
            access_code.append(_ACCESS_CODE[lv])
    except InputError:
        raise
    except (RuntimeError, ValueError, OSError) as exc:
        raise _osmium_error(p, exc) from None
    stats["ways_kept"] = len(way_len)
    log.info("%s: %s highway ways read, %s kept (%.1f s)", p.name, f"{stats['ways_read']:,}",
             f"{stats['ways_kept']:,}", time.monotonic() - progress.t0)
    if not way_len:
        raise InputError(
            f"{p.name} contains no road a truck may drive (highway in {sorted(keep_highway)})",
            fields={"path": "driveable highway ways"},
        )

    # ---- pass 1b: the node ids of the kept ways, written by libosmium (C++) as OPL text and
    # parsed by numpy: no Python object per node reference
    way_ids = np.frombuffer(way_id, dtype=np.int64)
    lens = np.frombuffer(way_len, dtype=np.int64)
    log.info("%s: reading the node lists of %s ways (%s node references)", p.name, f"{lens.size:,}", f"{int(lens.sum()):,}")
    with tempfile.TemporaryDirectory(prefix="yizhan-osm-") as tmp:
        refs_np = _way_refs(p, Path(tmp) / "ways.opl", way_ids, lens)
    used = np.sort(refs_np)  # sort-based unique: several times faster than np.unique here
    used = used[np.concatenate([[True], used[1:] != used[:-1]])]

    # ---- pass 2: the coordinates of the nodes those ways use. libosmium filters the nodes by
    # id and stores (id, x, y) in a sparse file index, all in C++; numpy reads that file.
    t_nodes = time.monotonic()
    log.info("%s: reading the locations of %s road nodes", p.name, f"{used.size:,}")
    with tempfile.TemporaryDirectory(prefix="yizhan-osm-") as tmp:
        loc_file = Path(tmp) / "locations.bin"
        try:
            index = osmium.index.create_map(f"sparse_file_array,{loc_file}")
            handler = osmium.NodeLocationsForWays(index)
            with osmium.io.Reader(str(p), osmium.osm.NODE) as reader:
                osmium.apply(reader, osmium.filter.IdFilter(used), handler)  # numpy ids: no list of ints
            del handler, index  # unmaps the file
        except (RuntimeError, ValueError, OSError) as exc:
            raise _osmium_error(p, exc) from None
        locs = np.fromfile(loc_file, dtype=[("id", "<i8"), ("x", "<i4"), ("y", "<i4")])
    locs = locs[locs["id"] != 0]  # the file is allocated in blocks; id 0 is padding (no OSM node has it)
    order = np.argsort(locs["id"], kind="stable")
    node_id = locs["id"][order]
    undefined = np.iinfo(np.int32).max  # libosmium's undefined coordinate
    x, y = locs["x"][order], locs["y"][order]
    node_lon = np.where(x == undefined, np.nan, x / 1e7)  # libosmium: degrees = fixed / 10^7
    node_lat = np.where(y == undefined, np.nan, y / 1e7)
    del locs, order, x, y
    dup = np.flatnonzero(node_id[1:] == node_id[:-1])
    if dup.size:  # a merged file may repeat a node; keep the first
        keep = np.ones(node_id.size, dtype=bool)
        keep[dup + 1] = False
        node_id, node_lon, node_lat = node_id[keep], node_lon[keep], node_lat[keep]
    log.info("%s: %s road nodes read (%.1f s)", p.name, f"{node_id.size:,}", time.monotonic() - t_nodes)
    stats["missing_nodes"] = 0
    if node_id.size < used.size:
        missing = np.setdiff1d(used, node_id, assume_unique=True)
        if not cut_ways:
            raise InputError(
                f"{p.name}: a way references node {int(missing[0])} that is not in the file "
                f"({missing.size:,} missing); cut the extract with complete ways "
                "(e.g. osmium extract --strategy complete_ways), or pass --cut-ways to keep "
                "the parts of those ways inside the file",
                fields={"path": "complete OSM data (ways reference existing nodes)"},
            )
        stats["missing_nodes"] = int(missing.size)
        log.warning("%s: %s nodes referenced by ways are not in the file (a cut extract): the segments "
                    "touching them are dropped", p.name, f"{missing.size:,}")
    bad = ~(np.isfinite(node_lon) & np.isfinite(node_lat) & (np.abs(node_lon) <= 180) & (np.abs(node_lat) <= 90))
    if bad.any():
        raise InputError(
            f"{p.name}: node {int(node_id[np.flatnonzero(bad)[0]])} has no valid location",
            fields={"path": "nodes with valid lon/lat"},
        )

    # ---- edges
    pos = np.searchsorted(node_id, refs_np)
    n_ways = lens.size
    owner = np.repeat(np.arange(n_ways), lens)
    seg = owner[1:] == owner[:-1]  # consecutive refs of the same way
    if stats["missing_nodes"]:  # a cut extract: only segments between two nodes of the file
        pos = np.minimum(pos, node_id.size - 1)
        present = node_id[pos] == refs_np
        seg &= present[1:] & present[:-1]
    del refs_np
    a, b = pos[:-1][seg], pos[1:][seg]
    seg_way = owner[:-1][seg]
    distinct = a != b  # osmnx drops consecutive duplicate refs of a way
    a, b, seg_way = a[distinct], b[distinct], seg_way[distinct]
    del pos, owner, seg
    wdir = np.frombuffer(way_dir, dtype=np.int8)[seg_way]
    fwd = wdir >= 0
    rev = wdir <= 0
    eu = np.concatenate([a[fwd], b[rev]])
    ev = np.concatenate([b[fwd], a[rev]])
    ew = np.concatenate([seg_way[fwd], seg_way[rev]])
    del a, b, seg_way, wdir

    # ---- largest weakly connected component, then drop unused nodes
    n = node_id.size
    node_keep = np.zeros(n, dtype=bool)
    node_keep[eu] = True
    node_keep[ev] = True
    if not retain_all and eu.size:
        g = sparse.coo_array((np.ones(eu.size, dtype=np.int8), (eu, ev)), shape=(n, n)).tocsr()
        n_comp, label = csgraph.connected_components(g, directed=True, connection="weak")
        del g
        if n_comp > 1:
            sizes = np.bincount(label[node_keep], minlength=n_comp)
            node_keep &= label == int(np.argmax(sizes))
            e_keep = node_keep[eu]
            eu, ev, ew = eu[e_keep], ev[e_keep], ew[e_keep]
    new = np.cumsum(node_keep) - 1
    node_id, node_lon, node_lat = node_id[node_keep], node_lon[node_keep], node_lat[node_keep]
    eu, ev = new[eu], new[ev]

    length = haversine_m(node_lon[eu], node_lat[eu], node_lon[ev], node_lat[ev])
    ref_names = np.empty(len(ref_codes), dtype=object)
    for r, c in ref_codes.items():
        ref_names[c] = r
    rules = {
        key: np.frombuffer(arr, dtype=np.float32)[ew].astype(RULE_COLUMNS[key], copy=False)
        for key, arr in limits.items()
    }
    rules["hgv"] = np.frombuffer(hgv_code, dtype=np.int8)[ew]
    rules["access"] = np.frombuffer(access_code, dtype=np.int8)[ew]
    rules["oneway"] = np.frombuffer(way_dir, dtype=np.int8)[ew] != 0
    stats.update(nodes=int(node_id.size), edges=int(eu.size))
    return OsmRoads(
        node_id=node_id,
        node_lon=np.ascontiguousarray(node_lon),
        node_lat=np.ascontiguousarray(node_lat),
        edge_u=eu,
        edge_v=ev,
        edge_length_m=length,
        edge_speed_kmh=np.frombuffer(way_speed, dtype=np.float64)[ew],
        edge_ref=ref_names[np.frombuffer(way_ref, dtype=np.int64 if way_ref.itemsize == 8 else np.int32)[ew]],
        rules=rules,
        edge_way=np.frombuffer(way_id, dtype=np.int64)[ew],
        stats=stats,
    )


def _way_refs(p: Path, opl: Path, way_ids: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Node ids of the ways ``way_ids`` (file order), concatenated: one C++ pass writing OPL."""
    import osmium

    try:
        writer = osmium.WriteHandler(str(opl))
        with osmium.io.Reader(str(p), osmium.osm.WAY) as reader:
            osmium.apply(reader, osmium.filter.IdFilter(way_ids), writer)
        writer.close()
    except (RuntimeError, ValueError, OSError) as exc:
        raise _osmium_error(p, exc) from None
    out = np.empty(int(lens.sum()), dtype=np.int64)
    seen = np.empty(way_ids.size, dtype=np.int64)
    k = pos = 0
    with open(opl, encoding="utf-8", errors="replace") as fh:
        while True:
            lines = fh.readlines(1 << 24)  # ~16 MB of text at a time
            if not lines:
                break
            fields = []
            for line in lines:
                # "w<id> v.. d.. c.. t.. i.. u.. T<tags> N<n1>,<n2>,...": the node list is last and
                # tag values escape spaces, so the last " N" starts it
                seen[k] = int(line[1 : line.index(" ")])
                fields.append(line[line.rindex(" N") + 2 :].rstrip("\n"))
                k += 1
            ids = np.fromstring(",".join(fields).replace("n", ""), dtype=np.int64, sep=",")
            out[pos : pos + ids.size] = ids
            pos += ids.size
    if k != way_ids.size or pos != out.size or not np.array_equal(seen, way_ids):
        raise InputError(
            f"cannot read {p.name}: its ways differ between two passes over the file",
            fields={"path": "a readable OSM file"},
        )
    return out


def haversine_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> np.ndarray:
    """Great-circle distance in metres on the sphere of radius :data:`EARTH_RADIUS_M`."""
    y1, y2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dx = np.deg2rad(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin((y2 - y1) / 2) ** 2 + np.cos(y1) * np.cos(y2) * np.sin(dx / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
