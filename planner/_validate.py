"""Checks for numbers typed by users: one message style for the CLI, the API and notebooks.

Two kinds of check live here. :func:`positive`, :func:`non_negative` and :func:`whole_number`
take what a user typed (text included) and raise :class:`~planner.errors.InputError` naming the
parameter; :func:`h3_resolution` checks the grid and demand layers' H3 resolution. :func:`is_number`, :func:`to_float` and :func:`as_int` are the predicates behind
record validation (stations, coordinates, registry arguments): a value that already is a number
(``int``, ``float`` or a numpy scalar; never ``bool`` or text) or ``None``, so each caller words
its own bilingual message.
"""

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


def is_number(value) -> bool:
    """Whether ``value`` is a real number: ``int``, ``float`` or a numpy integer/float scalar
    (from GeoPackage/CSV readers); ``bool`` and text are not."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    # numpy scalars without importing numpy here
    return type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iuf"


def to_float(value) -> float | None:
    """A float for numbers that fit one (a 400-digit int does not); None otherwise.

    NaN and infinities come back as they are: range checks refuse them.
    """
    if not is_number(value):
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):
        return None


def as_int(value) -> int | None:
    """An int for ints and integral floats (numpy included); None otherwise."""
    number = to_float(value)
    if number is None:
        return None
    if not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


def h3_resolution(value) -> int:
    """An H3 resolution: a whole number (``int`` or numpy integer, not ``bool``) from 0 to 15."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value <= 15:
        raise InputError(f"resolution must be a whole number from 0 to 15, got {value!r}",
                         fields={"resolution": "whole number 0-15"})
    return int(value)
