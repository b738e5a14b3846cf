"""Numbers from environment variables: a bad value is a one-line UserError naming the variable,
never a ValueError deep in a run (BENCH_SLOT_WAIT=soon) or a silent default."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from bench.base.errors import UserError, quote
from bench.base.limits import LIMITS


def number(name: str, default: float, low: float, high: float, env: Mapping[str, str] | None = None) -> float:
    """$name as a number in [low, high]; default when unset or empty."""
    text = (os.environ if env is None else env).get(name, "").strip()
    if not text:
        return default
    try:
        if len(text) > LIMITS.int_digits:  # int()/float() of thousands of digits: refused or slow
            raise ValueError
        value = float(text)
    except ValueError:
        raise UserError(f"${name}={quote(text)}: not a number (want {low:g} to {high:g})") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise UserError(f"${name}={quote(text)}: want {low:g} to {high:g}")
    return value


def whole(name: str, default: int, low: int, high: int, env: Mapping[str, str] | None = None) -> int:
    """$name as a whole number in [low, high]; default when unset or empty."""
    value = number(name, default, low, high, env)
    if value != int(value):
        raise UserError(f"${name}={value:g}: want a whole number, {low} to {high}")
    return int(value)
