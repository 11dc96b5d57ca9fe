"""Checks for numbers typed by users: one message style for the CLI, the API and notebooks."""

from __future__ import annotations

import math
import numbers

from planner.errors import InputError


def _shown(value) -> str:
    """``repr`` for messages; an int past Python's 4,300-digit limit cannot be shown."""
    try:
        text = repr(value)
    except ValueError:
        return "a number too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value, name: str, strict: bool = False) -> float:
    if isinstance(value, bool) or (strict and not isinstance(value, numbers.Real)):
        raise InputError(f"{name} must be a number, got {value!r}", fields={name: "must be a number"})
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {_shown(value)}", fields={name: "must be a number"}) from None
    except OverflowError:  # an int with hundreds of digits
        raise InputError(f"{name} is far too large, got {_shown(value)}", fields={name: "out of range"}) from None


def positive(value, name: str, *, unit: str = "", strict: bool = False) -> float:
    """``value`` as a finite float greater than 0, or InputError naming ``name`` (and ``unit``).

    Text such as ``"5"`` (a query string, a CSV cell) is read as a number unless ``strict``
    (Python arguments that must already be numbers).
    """
    v = _number(value, name, strict)
    if not (math.isfinite(v) and v > 0):
        unit = f" {unit}" if unit else ""
        raise InputError(f"{name} must be greater than 0{unit}, got {_shown(value)}", fields={name: "must be greater than 0"})
    return v


def non_negative(value, name: str, *, unit: str = "", strict: bool = False) -> float:
    """``value`` as a finite float of 0 or more, or InputError naming ``name`` (and ``unit``; ``strict`` as in :func:`positive`)."""
    v = _number(value, name, strict)
    if not (math.isfinite(v) and v >= 0):
        unit = f" {unit}" if unit else ""
        raise InputError(f"{name} must be 0 or more{unit}, got {_shown(value)}", fields={name: "must be 0 or more"})
    return v


def whole_number(value, name: str, *, minimum: int = 1, maximum: int | None = None, strict: bool = False) -> int:
    """``value`` as an int in [minimum, maximum], or InputError naming ``name`` and the range.

    ``strict``: only integers (``int``, numpy integers) pass, not ``2.0`` or ``"2"``.
    """
    rule = f"must be a whole number ≥ {minimum}" if maximum is None else (
        f"must be a whole number between {minimum} and {maximum}")
    if isinstance(value, bool) or (strict and not isinstance(value, numbers.Integral)):
        raise InputError(f"{name} {rule}, got {_shown(value)}", fields={name: rule})
    v = _number(value, name)
    if not (math.isfinite(v) and v == int(v) and v >= minimum and (maximum is None or v <= maximum)):
        raise InputError(f"{name} {rule}, got {value!r}", fields={name: rule})
    return int(v)
