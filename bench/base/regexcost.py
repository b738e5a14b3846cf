"""Regexes people write that Python's re would match for ever: refused where they are written.

Title regexes (known-issues.yaml, series.yaml suppress:/expect:/catch:, --suppress,
--signature) are matched against every report title of every run, and a title is the kernel's
choice (a function's name, up to 120 characters). Python's re backtracks and has no time limit,
so a regex that can match one piece of a title in many ways hung the scan, a run's verdict or
a night. Three shapes do, each measured on a 120-character title (tests/test_hostile_round6.py,
tests/test_hostile_round8.py):

- a repeat of varying count (`+`, `*`, `?`, `{1,3}`) inside a repeat that runs many times:
  `(\\w+_?)+`, `(\\w\\w?)+` try every way of splitting the title among their parts (2^n);
- inside such a repeat, an alternation whose branches can start alike: `(a|a)+`, `(.|\\w)+`,
  `(x|xy)*` (re factors the common x out, leaving an empty branch);
- more than LIMITS.regex_repeats unbounded repeats in one regex (`\\w*\\w*\\w*\\w*`,
  `.*a.*a.*a.*a`, `(\\w+){6}`): a search tries n^k ways per start (4: seconds, 5: minutes).
"""

from __future__ import annotations

import warnings
from typing import Any

from bench.base.limits import LIMITS

with warnings.catch_warnings():  # re's parser, under its old name (3.10 has no re._parser)
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants
    import sre_parse

_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
MANY = 16  # a bounded repeat running more times than this is as costly as an unbounded one (2^16 ways: fine)
NESTED = ("nests a repeat of varying count inside an unbounded one (as (\\w+_?)+, (\\w\\w?)+ or (a+)+ do): matching"
          " one title can take longer than the run; write it without the nesting (\\w+ for (\\w+_?)+)")
BRANCHES = ("repeats an alternation whose branches can match the same text (as (a|a)+, (.|\\w)+ or (x|xy)* do):"
            " matching one title can take longer than the run; use a character class or branches that start differently")
_ASCII = {"CATEGORY_DIGIT": frozenset(range(48, 58)),
          "CATEGORY_WORD": frozenset([*range(48, 58), *range(65, 91), 95, *range(97, 123), -1]),
          "CATEGORY_SPACE": frozenset([9, 10, 11, 12, 13, 32, -1])}  # -1: some non-ASCII character


def why_slow(regex: str) -> str:
    """"" for a (valid) regex that matches a title in reasonable time, else why not, as a phrase
    that follows the regex in an error ("title regex '...' nests ...")."""
    parsed = sre_parse.parse(regex)
    if _nested(parsed.data, False):
        return NESTED
    if _ambiguous_branch(parsed.data, False):
        return BRANCHES
    if (n := _unbounded(parsed.data)) > LIMITS.regex_repeats:
        return (f"holds {n} unbounded repeats (as \\w*\\w*\\w*\\w* or .*a.*a.*a.*a do), over the limit of"
                f" {LIMITS.regex_repeats} (regex_repeats): a search tries n^{n} ways on a title of n characters")
    return ""


def _parts(av: Any) -> list[list[Any]]:
    """The sub-patterns of one item's argument, as lists of items."""
    found: list[list[Any]] = []
    for part in av if isinstance(av, (tuple, list)) else (av,):
        for sub in part if isinstance(part, list) else (part,):
            if isinstance(sub, sre_parse.SubPattern):
                found.append(sub.data)
    return found


def _many(hi: int) -> bool:
    return hi == sre_constants.MAXREPEAT or hi > MANY


def _nested(items: list[Any], inside: bool) -> bool:
    for op, av in items:
        if str(op) in _REPEATS:
            lo, hi, sub = av
            if inside and lo != hi:
                return True
            if _nested(sub.data, inside or _many(hi)):
                return True
            continue
        if any(_nested(part, inside) for part in _parts(av)):
            return True
    return False


def _ambiguous_branch(items: list[Any], inside: bool) -> bool:
    for op, av in items:
        if str(op) in _REPEATS:
            if _ambiguous_branch(av[2].data, inside or _many(av[1])):
                return True
            continue
        if str(op) == "BRANCH" and inside:
            firsts = [_first(alt.data) for alt in av[1]]
            known = [f for f in firsts if f is not None]
            if len(known) < len(firsts) or any(a & b for i, a in enumerate(known) for b in known[i + 1:]):
                return True
        if any(_ambiguous_branch(part, inside) for part in _parts(av)):
            return True
    return False


def _first(items: list[Any]) -> frozenset[int] | None:
    """The characters a match of items can start with; None: any, or it may match nothing."""
    if not items:
        return None
    op, av = items[0]
    name = str(op)
    if name == "LITERAL":
        return frozenset({av, ord(chr(av).lower()), ord(chr(av).upper())})  # (?i) may be on
    if name == "IN":
        out: set[int] = set()
        for kind, value in av:
            if str(kind) == "LITERAL":
                out |= {value, ord(chr(value).lower()), ord(chr(value).upper())}
            elif str(kind) == "RANGE" and value[1] - value[0] <= 256:
                out |= {c for v in range(value[0], value[1] + 1) for c in (v, ord(chr(v).lower()), ord(chr(v).upper()))}
            elif str(kind) == "CATEGORY" and str(value) in _ASCII:
                out |= _ASCII[str(value)]
            else:
                return None
        return frozenset(out)
    if name == "SUBPATTERN":
        return _first(av[-1].data)
    if name == "BRANCH":
        firsts = [_first(alt.data) for alt in av[1]]
        known = [f for f in firsts if f is not None]
        return frozenset().union(*known) if len(known) == len(firsts) else None
    if name in _REPEATS and av[0] > 0:
        return _first(av[2].data)
    return None


def _unbounded(items: list[Any], times: int = 1) -> int:
    """Unbounded repeats (and long varying ones), each counted as often as the repeats around it run."""
    n = 0
    for op, av in items:
        if str(op) in _REPEATS:
            lo, hi, sub = av
            if _many(hi) and lo != hi:
                n += times
            n += _unbounded(sub.data, times * (1 if _many(hi) else max(hi, 1)))
            continue
        n += sum(_unbounded(part, times) for part in _parts(av))
    return n
