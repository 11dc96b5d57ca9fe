"""Checks for numbers typed by users: one message style for the CLI, the API and notebooks."""

from __future__ import annotations

import math

from planner.errors import InputError


def _shown(value) -> str:
    """``repr`` for messages; an int past Python's 4,300-digit limit cannot be shown."""
    try:
        text = repr(value)
    except ValueError:
        return "a number too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value, name: str) -> float:
    if isinstance(value, bool):
        raise InputError(f"{name} must be a number, got {value!r}", fields={name: "must be a number"})
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {_shown(value)}", fields={name: "must be a number"}) from None
    except OverflowError:  # an int with hundreds of digits
        raise InputError(f"{name} is far too large, got {_shown(value)}", fields={name: "out of range"}) from None


def positive(value, name: str) -> float:
    """``value`` as a finite float greater than 0, or InputError naming ``name``."""
    v = _number(value, name)
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"{name} must be greater than 0, got {value!r}", fields={name: "must be greater than 0"})
    return v


def non_negative(value, name: str) -> float:
    """``value`` as a finite float of 0 or more, or InputError naming ``name``."""
    v = _number(value, name)
    if not (math.isfinite(v) and v >= 0):
        raise InputError(f"{name} must be 0 or more, got {value!r}", fields={name: "must be 0 or more"})
    return v


def whole_number(value, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum], or InputError naming ``name`` and the range."""
    rule = f"must be a whole number ≥ {minimum}" if maximum is None else (
        f"must be a whole number between {minimum} and {maximum}")
    v = _number(value, name) if not isinstance(value, bool) else math.nan
    if not (math.isfinite(v) and v == int(v) and v >= minimum and (maximum is None or v <= maximum)):
        raise InputError(f"{name} {rule}, got {value!r}", fields={name: rule})
    return int(v)
