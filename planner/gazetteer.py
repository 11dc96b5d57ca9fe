"""Place search over the region's embedded gazetteer (``geodata/<region>/gazetteer.json``).

Drivers type what they know: "江油", "绵阳", "平武县", "Pingwu", "pingwu", "jiang",
"Xin'an". :func:`search` matches Chinese names and their short forms (江油市 → 江油),
toneless pinyin and English names, exactly, by prefix or inside the name, and ranks the
city and county seats before towns, service areas, hubs and interchanges.

The file is built by ``geodata/<region>/build_gazetteer.py`` (pinyin is written there;
nothing here needs a pinyin library). Every place keeps its ``data_status`` and
``source``.

>>> [p["id"] for p in search("江油", limit=1)]
['COUNTY-510781']
>>> [p["id"] for p in search("pingwu", limit=1)]
['COUNTY-510727']
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from planner import settings
from planner._validate import whole_number
from planner.errors import InputError

GEODATA = Path(__file__).resolve().parent.parent / "geodata"

#: Order of kinds in results (smaller first) when the match is equally good.
KIND_RANK: dict[str, int] = {
    "city": 0, "county": 1, "town": 2, "service_area": 3, "logistics_hub": 4, "parking_area": 5,
    "interchange": 6, "freight_generator": 7,
}
#: Longest query accepted, characters.
MAX_QUERY = 40
#: Most results a search returns.
MAX_LIMIT = 20


def normalize(text: str) -> str:
    """Lower case, full-width folded (NFKC), without spaces, apostrophes, dots or dashes."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return re.sub(r"[\s'’`\-–·.,，、()（）]+", "", text)


@lru_cache(maxsize=4)
def load(region: str = settings.DEFAULT_REGION) -> dict:
    """The gazetteer of ``region`` as stored (``{"places": [...], ...}``), with match keys.

    Raises
    ------
    InputError
        When the region has no gazetteer file.
    """
    path = GEODATA / region / "gazetteer.json"
    if not path.is_file():
        raise InputError(f"region {region!r} has no gazetteer ({path}); build it with "
                         f"geodata/{region}/build_gazetteer.py", fields={"region": "no gazetteer"})
    data = json.loads(path.read_text(encoding="utf-8"))
    for place in data["places"]:
        keys = {normalize(place["name_zh"]), normalize(place["name_en"] or ""), place["pinyin"]}
        keys.update(normalize(a) for a in place.get("aliases") or ())
        en = place.get("name_en") or ""
        keys.add(normalize(re.split(r"[(]", en, maxsplit=1)[0]))  # "Pingwu County" without "(…)"
        keys.add(normalize(en.split(" ")[0]))  # "Pingwu", "Xin'an"
        place["_keys"] = tuple(sorted(k for k in keys if k))
    return data


def _score(place: dict, q: str) -> tuple | None:
    best = None
    for key in place["_keys"]:
        if key == q:
            quality = 0
        elif key.startswith(q):
            quality = 1
        elif q in key:
            quality = 2
        else:
            continue
        best = quality if best is None else min(best, quality)
    if best is None:
        return None
    return best, KIND_RANK.get(place["kind"], 9), 0 if place.get("in_region", True) else 1, len(place["name_zh"])


def search(query: str, *, limit: int = 8, region: str = settings.DEFAULT_REGION) -> list[dict]:
    """Places matching ``query``, best first (without the internal match keys).

    Parameters
    ----------
    query
        Chinese, pinyin (with or without spaces and tones dropped) or English; partial
        input matches by prefix and inside names.
    limit
        1 … :data:`MAX_LIMIT` results.

    Raises
    ------
    InputError
        For an empty or over-long query or a bad ``limit``.
    """
    if not isinstance(query, str) or not normalize(query):
        raise InputError("q is required: type part of a place name (江油, Pingwu, jiang…)",
                         fields={"q": "required"})
    if len(query) > MAX_QUERY:
        raise InputError(f"q is at most {MAX_QUERY} characters, got {len(query)}",
                         fields={"q": f"at most {MAX_QUERY} characters"})
    limit = whole_number(limit, "limit", minimum=1, maximum=MAX_LIMIT, strict=True)
    q = normalize(query)
    scored = []
    for place in load(region)["places"]:
        s = _score(place, q)
        if s is not None:
            scored.append((s, place["id"], place))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [{k: v for k, v in place.items() if not k.startswith("_")} for _s, _id, place in scored[:limit]]


def kinds(region: str = settings.DEFAULT_REGION) -> dict:
    """Display names of the kinds: ``{kind: {"zh", "en"}}``."""
    return load(region)["kinds"]
