"""The one statistical test of the bench: one-sided Fisher's exact test on two failure counts.

Is a case's failure rate with the series (a failures in a+b runs) above its rate on the
base (c failures in c+d runs) by more than chance? Under the null hypothesis that both
rates are the same, given the margins (runs on each side, failures in all), the number of
the series' failures is hypergeometric; the p-value is the chance of a series count at
least as large as the one seen. Exact (integer arithmetic), no approximation: the counts are
small. A regression is p <= alpha.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

ALPHA = 0.05  # the usual 5%: one false alarm in twenty for a case that did not change


def fisher_greater(a: int, b: int, c: int, d: int) -> float:
    """One-sided p for the 2x2 table [[a, b], [c, d]] (rows: series, base; columns: failed,
    passed): P(X >= a), X ~ Hypergeometric(N = a+b+c+d, K = a+c, n = a+b)."""
    if min(a, b, c, d) < 0:
        raise ValueError("counts must not be negative")
    n_total, failed, series = a + b + c + d, a + c, a + b
    if series == 0:
        return 1.0
    top = min(failed, series)
    hits = sum(comb(failed, x) * comb(n_total - failed, series - x) for x in range(a, top + 1))
    return float(Fraction(hits, comb(n_total, series)))


def min_runs(alpha: float) -> int:
    """The fewest runs per side with which even the clearest case (failing in every run with
    the series, never on the base) reaches p <= alpha: fewer runs can never show a regression."""
    n = 1
    while fisher_greater(n, 0, 0, n) > alpha:
        n += 1
    return n
