"""Station edit forms: stored record ⇄ form values ⇄ registry changes.

Validation of meaning (ranges, hours format, inside Mianyang, …) belongs to
:func:`planner.stations.validate_station`, run by the registry; this module only parses
what a browser sends (text → numbers) and reports what cannot be parsed, in the user's
language. CSRF is checked for every POST by ``flask_wtf.CSRFProtect``.

An edit form carries the values it was loaded with (``orig``, JSON) and the version. On
save only the fields the user changed go to the registry, so a conflict screen can show
the user's edits next to the stored values and offer to re-apply just those edits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from planner.stations import AMENITIES
from webmap.i18n import amenity_label, t

TEXT_FIELDS = ("name", "name_en", "corridor", "address", "hours", "phone", "source", "notes", "as_of")
CHOICE_FIELDS = ("kind", "data_status")
INT_FIELDS = ("parking_bays", "daily_trucks", "coord_precision_m")
#: Every field the edit form shows, in display order.
EDIT_FIELDS = (
    "name", "name_en", "kind", "corridor", "address", "hours", "phone", "parking_bays", "daily_trucks",
    "amenities", "charging", "lon", "lat", "data_status", "source", "coord_precision_m", "as_of", "notes",
)
#: Empty rows offered for new charging bays.
SPARE_BAY_ROWS = 2


def values_of(record: Mapping) -> dict:
    """The form values of a stored record (canonical: text, int or '', floats, dicts)."""
    out: dict = {}
    for f in TEXT_FIELDS + CHOICE_FIELDS:
        v = record.get(f)
        out[f] = "" if v is None else str(v)
    for f in INT_FIELDS:
        v = record.get(f)
        out[f] = "" if v is None else int(v)
    amenities = record.get("amenities") or {}
    out["amenities"] = {k: bool(amenities.get(k)) for k in AMENITIES}
    charging = record.get("charging") or {}
    out["charging"] = {
        "bays": [[int(b["count"]), float(b["power_kw"])] for b in charging.get("bays") or []],
        "swap": bool(charging.get("swap")),
    }
    out["lon"] = float(record["lon"]) if record.get("lon") is not None else ""
    out["lat"] = float(record["lat"]) if record.get("lat") is not None else ""
    out["coord_sys"] = "wgs84"
    return out


def plain_number(value) -> str:
    """240.0 → "240", 1.5 → "1.5"; text (an unparsed entry) comes back as it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}"
    return str(value)


def _number(text: str, *, integer: bool) -> float | int | None:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        return None
    if not integer and not math.isfinite(value):
        return None
    return value


def parse(form) -> tuple[dict, dict]:
    """Form data → (values, errors). ``errors`` names fields whose text is not a number."""
    values: dict = {}
    errors: dict[str, str] = {}
    for f in TEXT_FIELDS + CHOICE_FIELDS:
        values[f] = (form.get(f) or "").strip()
    for f in INT_FIELDS:
        text = (form.get(f) or "").strip()
        if not text:
            values[f] = ""
            continue
        number = _number(text, integer=True)
        if number is None:
            errors[f] = t("not_an_integer")
            values[f] = text
        else:
            values[f] = number
    for f in ("lon", "lat"):
        text = (form.get(f) or "").strip()
        number = _number(text, integer=False) if text else None
        if not text:
            errors[f] = t("required")
        elif number is None:
            errors[f] = t("not_a_number")
        values[f] = number if number is not None else text
    values["coord_sys"] = (form.get("coord_sys") or "wgs84").strip()
    offered = set(form.getlist("amenity"))
    values["amenities"] = {k: k in offered for k in AMENITIES}
    bays = []
    for count_text, kw_text in zip(form.getlist("bay_count"), form.getlist("bay_kw")):
        count_text, kw_text = count_text.strip(), kw_text.strip()
        if not count_text and not kw_text:
            continue
        count, kw = _number(count_text, integer=True), _number(kw_text, integer=False)
        if count is None or kw is None:
            errors["charging"] = t("bays_hint") + " — " + t("not_a_number")
            bays.append([count_text, kw_text])
        else:
            bays.append([count, kw])
    values["charging"] = {"bays": bays, "swap": form.get("swap") == "on"}
    return values, errors


def load_orig(text: str | None) -> dict | None:
    """The ``orig`` hidden field (values the form was loaded with), or None if unusable.

    The field comes back from the browser, so it is checked to have exactly the shape
    :func:`values_of` gives (a tampered or damaged one is ignored and the stored record
    used instead): no edit can crash on it.
    """
    try:
        orig = json.loads(text or "")
    except (ValueError, RecursionError):
        return None
    return orig if _orig_shape_ok(orig) else None


def _orig_shape_ok(orig) -> bool:
    def number(v, integer=False):
        ok = isinstance(v, int) if integer else isinstance(v, (int, float))
        return ok and not isinstance(v, bool) and (integer or math.isfinite(v))

    if not isinstance(orig, dict):
        return False
    if not all(isinstance(orig.get(f), str) for f in TEXT_FIELDS + CHOICE_FIELDS):
        return False
    if not all(orig.get(f) == "" or number(orig.get(f), integer=True) for f in INT_FIELDS):
        return False
    amenities, charging = orig.get("amenities"), orig.get("charging")
    if not isinstance(amenities, dict) or not all(isinstance(v, bool) for v in amenities.values()):
        return False
    if not isinstance(charging, dict) or not isinstance(charging.get("swap"), bool):
        return False
    bays = charging.get("bays")
    if not isinstance(bays, list) or not all(
            isinstance(b, list) and len(b) == 2 and number(b[0], integer=True) and number(b[1]) for b in bays):
        return False
    return all(orig.get(f) == "" or number(orig.get(f)) for f in ("lon", "lat"))


def dump_orig(values: dict) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _optional(value):
    return None if value == "" else value


def changes_between(orig: Mapping, values: Mapping) -> dict:
    """Registry changes (a PATCH body) turning ``orig`` into ``values``.

    Amenities change key by key; charging as a whole; the location when the numbers
    differ or were typed in another system (``coord_sys`` ≠ wgs84).
    """
    changes: dict = {}
    for f in TEXT_FIELDS + CHOICE_FIELDS + INT_FIELDS:
        if f in values and values[f] != orig.get(f, ""):
            changes[f] = _optional(values[f])
    old_amenities = orig.get("amenities") or {}
    amenity_changes = {k: v for k, v in (values.get("amenities") or {}).items() if bool(old_amenities.get(k)) != v}
    if amenity_changes:
        changes["amenities"] = amenity_changes
    old_charging = orig.get("charging") or {"bays": [], "swap": False}
    new_charging = values.get("charging") or {"bays": [], "swap": False}
    if _bays_key(new_charging) != _bays_key(old_charging):
        changes["charging"] = {
            "bays": [{"count": c, "power_kw": kw} for c, kw in new_charging["bays"]],
            "swap": bool(new_charging["swap"]),
        }
    moved = values.get("lon") != orig.get("lon") or values.get("lat") != orig.get("lat")
    if moved or values.get("coord_sys", "wgs84") != "wgs84":
        changes["lon"], changes["lat"] = values.get("lon"), values.get("lat")
    return changes


def _bays_key(charging: Mapping) -> tuple:
    return tuple(tuple(b) for b in charging.get("bays") or []), bool(charging.get("swap"))


def overlay(base: dict, changes: Mapping, edited: Mapping) -> dict:
    """Form values: ``base`` (the stored record's) with the user's ``edited`` values for
    every field named in ``changes`` (amenities key by key)."""
    out = json.loads(json.dumps(base))
    for f in changes:
        if f == "amenities":
            out["amenities"].update(changes["amenities"])
        elif f in ("lon", "lat"):
            out["lon"], out["lat"], out["coord_sys"] = edited["lon"], edited["lat"], edited.get("coord_sys", "wgs84")
        else:
            out[f] = edited[f]
    return out


def display(field: str, value, lang: str | None = None) -> str:
    """A value as the conflict and history screens show it."""
    if field == "charging" and isinstance(value, Mapping):
        bays = value.get("bays") or []
        parts = []
        for b in bays:
            count, kw = (b.get("count"), b.get("power_kw")) if isinstance(b, Mapping) else (b[0], b[1])
            parts.append(f"{count} × {kw:g} kW" if isinstance(kw, (int, float)) else f"{count} × {kw} kW")
        text = ", ".join(parts) or "—"
        if value.get("swap"):
            text += " + " + t("f_swap", lang)
        return text
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if value is None or value == "":
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def conflict_rows(orig: Mapping, mine: Mapping, edited: Mapping, stored: Mapping, lang: str | None = None) -> list[dict]:
    """Rows of the conflict table: every field the user or the other writer changed.

    Each row: ``label``, ``yours``, ``theirs`` (texts) and ``mine`` (the user edited it).
    """
    theirs = changes_between(orig, stored)
    rows = []
    for f in EDIT_FIELDS:
        if f == "amenities":
            keys = list(dict.fromkeys([*(mine.get("amenities") or {}), *(theirs.get("amenities") or {})]))
            for k in keys:
                mine_k = k in (mine.get("amenities") or {})
                rows.append({
                    "label": amenity_label(k, lang),
                    "yours": _yours(display(k, bool(edited["amenities"].get(k)), lang), mine_k, lang),
                    "theirs": display(k, bool(stored["amenities"].get(k)), lang),
                    "mine": mine_k,
                })
            continue
        if f not in mine and f not in theirs:
            continue
        rows.append({
            "label": t("f_" + f, lang),
            "yours": _yours(display(f, edited.get(f), lang), f in mine, lang),
            "theirs": display(f, stored.get(f), lang),
            "mine": f in mine,
        })
    return rows


def _yours(text: str, mine: bool, lang: str | None) -> str:
    return text if mine else f"{text} ({t('conflict_unchanged', lang)})"
