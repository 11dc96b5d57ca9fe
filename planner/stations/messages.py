"""Per-field messages in two languages: how station (and registry) checks report problems.

Validation collects every problem, then raises one :class:`~planner.errors.InputError`:

* ``err.fields`` maps each field to a short, actionable rule **in English**
  (e.g. ``{"lon": "lon must be a number between 103.74 and 105.73 (inside Mianyang, WGS-84); got 120.1"}``);
* ``err.fields_zh`` maps the same keys to the **Chinese** rule.

Use :func:`localized_fields` (``localized_fields(err, "zh")``) to pick the language: it
falls back to English for errors raised without a Chinese rule. Field keys are the record's
top-level names (``amenities``, ``charging``, ...), plus ``location`` when a point has valid
numbers but lies outside the Mianyang boundary; a bulk write prefixes them with the record
(``"record 3 (MY-DH-01).hours"``).
"""

from __future__ import annotations

from typing import Any

from planner.errors import InputError

#: Problems named in the message of a bulk error (``fields`` holds them all).
SHOWN = 8


def localized_fields(error: BaseException, lang: str = "en") -> dict[str, str]:
    """Per-field messages of an error in ``lang`` (``"zh"`` or ``"en"``).

    Errors from this package, the registry and :mod:`planner.coords` carry ``fields_zh``;
    others fall back to their English ``fields``. Any ``lang`` starting with ``zh`` picks
    Chinese.
    """
    fields = dict(getattr(error, "fields", {}) or {})
    if str(lang).lower().startswith("zh"):
        zh = getattr(error, "fields_zh", None) or {}
        return {key: zh.get(key, rule) for key, rule in fields.items()}
    return fields


class Problems:
    """Collects ``(key, English rule, Chinese rule)`` triples, then raises once.

    A key given twice keeps both rules (joined by ``"; "`` and ``"；"``). :meth:`error` words
    the problems of one record, :meth:`summary` those of a file or a bulk write.
    """

    def __init__(self) -> None:
        self.en: dict[str, str] = {}
        self.zh: dict[str, str] = {}

    def add(self, key: str, en: str, zh: str | None = None) -> None:
        """One problem; ``zh=None`` where there is no Chinese rule (the English one stands in)."""
        zh = en if zh is None else zh
        if key in self.en:
            self.en[key] += "; " + en
            self.zh[key] += "；" + zh
        else:
            self.en[key] = en
            self.zh[key] = zh

    def extend(self, label: str, err: InputError) -> None:
        """Every field problem of ``err``, keyed ``"{label}.{field}"``."""
        zh = getattr(err, "fields_zh", None) or {}
        for field, rule in err.fields.items():
            self.add(f"{label}.{field}", rule, zh.get(field))

    def __bool__(self) -> bool:
        return bool(self.en)

    def error(self, head: str) -> InputError:
        """``head: rule; rule; ...`` (e.g. ``head="invalid station"``)."""
        return InputError(f"{head}: " + "; ".join(self.en.values()), fields=self.en, fields_zh=self.zh)

    def summary(self, head: str, *, done: str = "written") -> InputError:
        """For a file or a bulk write, all or nothing: ``head: N problem(s); nothing was
        {done}: key: rule; ...`` showing the first :data:`SHOWN` (every one is in ``fields``)."""
        shown = "; ".join(f"{k}: {v}" for k, v in list(self.en.items())[:SHOWN])
        more = f" (and {len(self.en) - SHOWN} more)" if len(self.en) > SHOWN else ""
        return InputError(f"{head}: {len(self.en)} problem(s); nothing was {done}: {shown}{more}",
                          fields=self.en, fields_zh=self.zh)


def short(value: Any, limit: int = 40) -> str:
    """``repr`` of a value for a message, cut to ``limit`` characters."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int past Python's 4,300-digit limit, deep nesting
        text = f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[: limit - 1] + "…"
