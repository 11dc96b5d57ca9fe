"""Vehicle profiles and the truck rules of road edges.

A :class:`Vehicle` is what a query drives: gross weight, height, length and axle load. The
edges of an OpenStreetMap network carry the OSM limits (``maxweight``, ``maxheight``,
``maxlength``, ``maxaxleload``) and who may use them (``hgv``, ``access``);
:func:`allowed_edges` gives the boolean mask of the edges a vehicle may use, and
:meth:`planner.network.RoadNetwork.for_vehicle` the network that keeps only those.

The default vehicle is the largest ordinary Chinese freight combination: a six-axle
tractor-semitrailer at 49 t, 4.0 m high, 18.1 m long, 11.5 t on its drive axle (limits of
GB 1589-2016; see ``docs/osm.md``).

>>> parse_vehicle("49t,4.2m,18m")
Vehicle(weight_t=49.0, height_m=4.2, length_m=18.0, axle_load_t=11.5)
>>> parse_vehicle("van")
Vehicle(weight_t=3.5, height_m=2.5, length_m=6.0, axle_load_t=2.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from planner.errors import InputError

__all__ = [
    "ACCESS_VALUES",
    "BELOW_DEFAULT",
    "DEFAULT_VEHICLE",
    "HGV_MIN_WEIGHT_T",
    "RULE_COLUMNS",
    "Vehicle",
    "allowed_edges",
    "parse_vehicle",
]

#: A vehicle heavier than this (gross, tonnes) is a heavy goods vehicle: OSM ``hgv=*`` rules
#: apply to it (the OSM definition of ``hgv``: goods vehicles over 3.5 t). Lighter vehicles
#: follow ``access`` (the ``goods``/``motor_vehicle``/``vehicle``/``access`` chain).
HGV_MIN_WEIGHT_T = 3.5

#: Stored for a limit tagged ``below_default`` (a limit below the legal default, value not
#: surveyed): heavy goods vehicles are refused, lighter vehicles pass.
BELOW_DEFAULT = -1.0

#: Access values kept per edge (code = position). Unknown values are stored as ``"other"``.
ACCESS_VALUES = (
    "", "yes", "designated", "permissive", "destination", "delivery", "customers", "discouraged",
    "other", "no", "private", "agricultural", "forestry", "emergency", "military", "permit",
)
#: Values that refuse the vehicle class they apply to.
DENIED_ACCESS = frozenset({"no", "private", "agricultural", "forestry", "emergency", "military", "permit"})
_DENIED_CODES = np.array([v in DENIED_ACCESS for v in ACCESS_VALUES], dtype=bool)

#: Per-edge rule arrays of an OSM network: name -> dtype.
RULE_COLUMNS: dict[str, Any] = {
    "maxweight_t": np.float32,
    "maxheight_m": np.float32,
    "maxlength_m": np.float32,
    "maxaxleload_t": np.float32,
    "hgv": np.int8,
    "access": np.int8,
    "oneway": np.bool_,
}


@dataclass(frozen=True)
class Vehicle:
    """A vehicle profile: gross weight (t), height (m), length (m), heaviest axle (t)."""

    weight_t: float = 49.0
    height_m: float = 4.0
    length_m: float = 18.1
    axle_load_t: float = 11.5

    def __post_init__(self) -> None:
        limits = {"weight_t": 100.0, "height_m": 10.0, "length_m": 50.0, "axle_load_t": 50.0}
        bad = {}
        for name, upper in limits.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= upper:
                bad[name] = f"a number in (0, {upper:g}]"
            else:
                object.__setattr__(self, name, float(v))
        if not bad and self.axle_load_t > self.weight_t:
            bad["axle_load_t"] = f"at most the gross weight ({self.weight_t:g} t)"
        if bad:
            raise InputError(f"invalid vehicle {self!r}: {bad}", fields={f"vehicle.{k}": v for k, v in bad.items()})

    @property
    def is_hgv(self) -> bool:
        """Heavier than :data:`HGV_MIN_WEIGHT_T`: OSM ``hgv`` rules apply."""
        return self.weight_t > HGV_MIN_WEIGHT_T

    def as_dict(self) -> dict:
        """The JSON form (``"vehicle"`` in answers)."""
        return {"weight_t": self.weight_t, "height_m": self.height_m, "length_m": self.length_m, "axle_load_t": self.axle_load_t}

    def key(self) -> str:
        """Canonical text form, parseable by :func:`parse_vehicle` (a cache key)."""
        return f"{self.weight_t:g}t,{self.height_m:g}m,{self.length_m:g}m,{self.axle_load_t:g}t"


#: A six-axle tractor-semitrailer at the limits of GB 1589-2016 (see docs/osm.md).
DEFAULT_VEHICLE = Vehicle()

#: Named profiles accepted by :func:`parse_vehicle`.
PRESETS: dict[str, Vehicle] = {
    "truck": DEFAULT_VEHICLE,
    "default": DEFAULT_VEHICLE,
    # a 3.5-t light goods van (N1 class), axle load about 2 t
    "van": Vehicle(weight_t=3.5, height_m=2.5, length_m=6.0, axle_load_t=2.0),
}

_NUM = r"(\d+(?:[.,]\d+)?)"
_WEIGHT_RE = re.compile(rf"\s*{_NUM}\s*(t|kg)?\s*", re.IGNORECASE)
_LENGTH_RE = re.compile(rf"\s*{_NUM}\s*(m)?\s*", re.IGNORECASE)
_FIELDS = ("weight_t", "height_m", "length_m", "axle_load_t")
_PARSED: dict[str, Vehicle] = {}
_HELP = "e.g. '49t,4.2m,18m' (weight, height, length[, axle load]) or one of " + ", ".join(sorted(PRESETS))


def parse_vehicle(text: Any) -> Vehicle:
    """A :class:`Vehicle` from text such as ``"49t,4.2m,18m"`` or ``"van"``.

    Comma-separated, in the order weight, height, length and (optionally) axle load; units
    ``t`` or ``kg`` for the weights and ``m`` for the sizes may be given or left out. Fields
    left out take the default vehicle's values; the axle load never exceeds the weight.
    ``None``, ``""`` give :data:`DEFAULT_VEHICLE`; a :class:`Vehicle` is returned as is.
    """
    if text is None or isinstance(text, Vehicle):
        return text or DEFAULT_VEHICLE
    if not isinstance(text, str):
        raise InputError(f"vehicle must be text, {_HELP}; got {text!r}", fields={"vehicle": _HELP})
    s = text.strip().lower()
    if not s:
        return DEFAULT_VEHICLE
    if s in PRESETS:
        return PRESETS[s]
    hit = _PARSED.get(s)
    if hit is not None:
        return hit
    parts = [p for p in s.split(",")]
    if len(parts) > 4 or any(not p.strip() for p in parts):
        raise InputError(f"cannot read vehicle {text!r}; {_HELP}", fields={"vehicle": _HELP})
    values: dict[str, float] = {}
    for name, part in zip(_FIELDS, parts):
        rx = _WEIGHT_RE if name.endswith("_t") else _LENGTH_RE
        m = rx.fullmatch(part)
        if not m:
            unit = "t" if name.endswith("_t") else "m"
            raise InputError(
                f"cannot read the {name.split('_')[0].replace('axle', 'axle load')} {part.strip()!r} in vehicle {text!r}: "
                f"give a number in {unit}; {_HELP}",
                fields={f"vehicle.{name}": f"number ({unit})"},
            )
        v = float(m.group(1).replace(",", "."))
        if (m.group(2) or "").lower() == "kg":
            v /= 1000.0
        values[name] = v
    if "axle_load_t" not in values and "weight_t" in values:
        values["axle_load_t"] = min(DEFAULT_VEHICLE.axle_load_t, values["weight_t"])
    vehicle = Vehicle(**{**asdict(DEFAULT_VEHICLE), **values})
    if len(_PARSED) < 1024:  # requests repeat a few profiles
        _PARSED[s] = vehicle
    return vehicle


def allowed_edges(rules: Mapping[str, np.ndarray] | None, n_edges: int, vehicle: Vehicle) -> np.ndarray:
    """Boolean mask of the edges ``vehicle`` may use.

    Parameters
    ----------
    rules
        Per-edge arrays (:data:`RULE_COLUMNS`); ``None`` (a network without rules, e.g.
        the corridors) allows every edge.
    n_edges
        Number of edges (the mask's length).
    vehicle
        The profile.

    Notes
    -----
    A limit of NaN is no limit; a limit is kept when the vehicle's value is at most the
    limit. :data:`BELOW_DEFAULT` refuses heavy goods vehicles only. Access: an HGV follows
    the edge's ``hgv`` value, a lighter vehicle its ``access`` value; the values in
    :data:`DENIED_ACCESS` refuse, any other value (or none) allows.
    """
    mask = np.ones(n_edges, dtype=bool)
    if not rules:
        return mask
    hgv = vehicle.is_hgv
    for name, value in (
        ("maxweight_t", vehicle.weight_t),
        ("maxheight_m", vehicle.height_m),
        ("maxlength_m", vehicle.length_m),
        ("maxaxleload_t", vehicle.axle_load_t),
    ):
        limit = rules.get(name)
        if limit is None:
            continue
        limit = np.asarray(limit)
        # float32 limits: compare at float32 so a 3.5-m vehicle passes a 3.5-m limit
        refused = limit < np.float32(value)
        refused &= limit != BELOW_DEFAULT
        if hgv:
            refused |= limit == BELOW_DEFAULT
        mask &= ~refused
    code = rules.get("hgv" if hgv else "access")
    if code is not None:
        mask &= ~_DENIED_CODES[np.asarray(code, dtype=np.intp)]
    return mask
