"""One JSON value read back as the type a typed file expects, or TypeError saying what it is.

The values are returned as read (a number stays the int or float it was), so a file read into
typed dataclasses and written again keeps its bytes (bench/run/runfacts.py,
bench/drivers/nightly/night_data.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def string(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{type(v).__name__}, not a string")
    return v


def integer(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{type(v).__name__}, not an integer")
    return v


def number(v: object) -> float:
    """An int or a float, as it was (12 stays 12)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{type(v).__name__}, not a number")
    return v


def boolean(v: object) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"{type(v).__name__}, not true or false")
    return v


def obj(v: object) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise TypeError(f"{type(v).__name__}, not an object")
    return v
