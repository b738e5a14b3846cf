"""The binary search over patch counts (0 = the base, n = the tip), skips included."""

from __future__ import annotations

import math
from collections.abc import Callable

from bench.drivers.bisect.judge import Verdict


def next_candidate(good: int, bad: int, skipped: set[int]) -> int | None:
    """The untested point nearest the middle of (good, bad): a skip tries a neighbour."""
    left = [k for k in range(good + 1, bad) if k not in skipped]
    if not left:
        return None
    mid = (good + bad) // 2
    return min(left, key=lambda k: (abs(k - mid), k))


def search(good: int, bad: int, test: Callable[[int], Verdict]) -> tuple[int, int, set[int]]:
    """Binary search for the first bad k in (good, bad]; returns the final good, bad, skips.

    bad - good == 1 means found; otherwise only skipped points are left between them.
    """
    skipped: set[int] = set()
    while (k := next_candidate(good, bad, skipped)) is not None:
        verdict = test(k)
        if verdict is Verdict.BAD:
            bad = k
        elif verdict is Verdict.GOOD:
            good = k
        else:
            skipped.add(k)
    return good, bad, skipped


def max_builds(n: int) -> int:
    """Steps a bisection of n >= 1 patches needs at most without skips: the tip + ceil(log2 n)."""
    return math.ceil(math.log2(n)) + 1

