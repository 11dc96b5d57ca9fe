"""Text normalisation of station records: the one form every check and rights test sees."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

#: Fields whose values are codes or fixed vocabularies: compatibility-normalised (NFKC, so
#: full-width ``ｒｅｔｉｒｅｄ`` or ``２４ｈ`` read as ASCII) and lower-cased.
CODE_FIELDS: tuple[str, ...] = ("kind", "status", "data_status", "coord_sys")
#: Fields of digits and punctuation: NFKC (full-width digits, ``：``) but case kept.
NFKC_FIELDS: tuple[str, ...] = ("county", "hours", "phone", "as_of")
#: Invisible characters stripped at the ends of a value besides Unicode white space.
_EDGE_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def normalise_text(value: Any, *, code: bool = False, compat: bool = False) -> Any:
    """One normalisation for a text value; anything that is not ``str`` comes back as is.

    NFC, then white space stripped at both ends (every Unicode space, e.g. U+3000, tabs,
    line breaks) together with zero-width characters. ``compat`` uses NFKC instead of NFC;
    ``code`` also implies NFKC and case-folds (vocabulary values such as ``status``).
    """
    if not isinstance(value, str):
        return value
    try:
        text = unicodedata.normalize("NFKC" if (code or compat) else "NFC", value)
    except UnicodeError:  # lone surrogates: left for the validator to refuse
        text = value
    text = text.strip().strip(_EDGE_INVISIBLE).strip()
    return text.casefold() if code else text


def normalise_record(record: Any) -> Any:
    """A station record or PATCH body with every value normalised as validation sees it.

    The single normalisation applied before validation *and* before any rights check
    (``{"status": "retired\u3000"}`` is a retirement wherever it is looked at). Keys are
    stripped; ``amenities``/``field_status``/``charging`` keys are vocabulary and are
    case-folded; ``id`` is NFKC (full-width letters and digits) but keeps its case.
    Non-mappings are returned unchanged (the
    validator reports them).
    """
    if not isinstance(record, Mapping):
        return record
    out: dict[Any, Any] = {}
    for key, value in record.items():
        key = normalise_text(key, code=True) if isinstance(key, str) else key
        if key in CODE_FIELDS:
            value = normalise_text(value, code=True)
        elif key in NFKC_FIELDS:
            value = normalise_text(value, compat=True)
        elif key == "id":
            value = normalise_text(value, compat=True)
        elif key in ("amenities", "field_status", "charging") and isinstance(value, Mapping):
            value = {normalise_text(k, code=True) if isinstance(k, str) else k:
                     normalise_text(v, code=True) if key == "field_status" else v for k, v in value.items()}
        else:
            value = normalise_text(value)
        out[key] = value
    return out
