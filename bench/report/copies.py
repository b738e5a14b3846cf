"""A doubled console: every printk line twice in a row (two consoles on one serial line).

scanner.scan() leaves one copy of each out (the more damaged, else the first); the kernel's own
repeats stay.
"""

from __future__ import annotations

import re
from array import array
from itertools import compress, count, islice, repeat
from operator import contains, eq

from bench.report.prefix import strip_prefix

# A line's printk time stamp and what follows it, the stamp at most 80 characters in (a syslog or
# LAVA prefix before it; its "[" may be gone): what two copies share.
_STAMPED = re.compile(r".{0,80}?(?<![\d.])(\d+\.\d{6} ?\].*)", re.S)


def doubled(raw: list[str]) -> list[int]:
    """The indexes of the first copies of the lines a doubled console printed twice (scanner.scan()
    leaves them out).

    Two consoles writing one serial line print every record twice in a row: vng boots with
    `earlyprintk=serial,ttyS0` and `console=ttyS0`, and until the boot console is disabled (for
    the whole run with `keep_bootcon`) each line comes twice (tests/data/boots/*/console.log: the
    two lines of that window). Each report was then scanned twice, its second header cutting the
    first short ("WARNING in corrupted"). A copy has the same printk time stamp and text (what
    comes before the stamp may differ: another program's output ate the first copy's "[", so the
    second is kept). A kernel may print one line twice in the same microsecond itself (a "?" frame
    of a stack scan), so only a doubling next to another is taken for the console's (two copies of
    two lines in a row, at two times, or three or more: two "?" frames printed twice each in one
    microsecond are the kernel's too); two reports at the same place at other times or from other
    tasks stay two. A run of 2n same lines is n lines printed twice; a console without time stamps
    is left as it is."""
    # neighbours that are equal among the lines that may hold a printk time stamp (a "]"; blank lines
    # and user space's lines between them left out: those do not go through printk's consoles, and
    # a program's line between two copies does not part them), found in C loops (the scan of a log
    # without any costs a few percent more; a console of one unstamped line over and over costs no
    # more than that); then next to those, copies one of which lost its start
    nb = array("q", compress(count(), map(contains, raw, repeat("]"))))
    lines = list(compress(raw, map(contains, raw, repeat("]"))))
    same = list(compress(count(), map(eq, lines, islice(lines, 1, None))))
    if len(same) < 2:
        return []
    cut = {n for k in same for n in (k - 2, k - 1, k + 1, k + 2)  # (equal ones are in same already)
           if 0 <= n < len(lines) - 1 and lines[n] != lines[n + 1] and _after(lines[n]) == _after(lines[n + 1])}
    near = sorted({i for n in (*same, *cut) for i in (nb[n], nb[n + 1])})
    seq = [(i, m.group(1)) for i in near if (m := _STAMPED.match(raw[i]))]  # (index, stamp and text)
    if len(seq) < 4:  # two lines twice at least
        return []

    def apart(i: int, j: int) -> bool:  # another printk line between lines i and j
        return any(raw[k] and _STAMPED.match(raw[k]) for k in range(i + 1, j))
    runs: list[list[int]] = []  # the indexes of each run of one key
    stamps: list[str] = []  # the time stamp of each run
    for n, (i, key) in enumerate(seq):
        if n and key == seq[n - 1][1] and not apart(seq[n - 1][0], i):
            runs[-1].append(i)
        else:
            runs.append([i])
            stamps.append(key[:key.index("]")].rstrip())
    twice = [len(r) % 2 == 0 for r in runs]
    # run n and run n + 1 are both doubled, with no other printk line between them
    pair = [n + 1 < len(runs) and twice[n] and twice[n + 1] and not apart(runs[n][-1], runs[n + 1][0])
            for n in range(len(runs))]
    # the doubled runs in a row (a stretch): three or more, or two at two times, are the console's.
    # Two at one time may be the kernel's own: a stack scan printing two "?" frames twice each in one
    # microsecond (slab-corruption-old-slab-then-oops-quoted-3.6.log prints one so), while the boot
    # console window of this bench's boots is two lines at two times
    take = [False] * len(runs)
    lo = 0
    while lo < len(runs):
        hi = lo
        while pair[hi]:  # pair[-1] is False
            hi += 1
        if hi - lo >= 2 or (hi - lo == 1 and stamps[lo] != stamps[hi]):
            take[lo:hi + 1] = [True] * (hi - lo + 1)
        lo = hi + 1
    # of two copies the first goes, unless the second is the more damaged one (see _damage())
    return [b if raw[a] != raw[b] and _damage(raw[b]) > _damage(raw[a]) else a
            for n, r in enumerate(runs) if take[n] for a, b in zip(r[0::2], r[1::2])]


def _damage(line: str) -> tuple[bool, int]:
    """How much another program's output on the serial line damaged this copy of a printk line:
    its prefix unread by the scanner (text after the stamp's "[": "[foo   38.244195] WARNING: ..."
    is no report at all), then the length of what comes before the stamp (spaces and "[" left out:
    "BUG: [   38.244195] WARNING: ..." gives another title). Two copies differ only there."""
    m = _STAMPED.match(line)
    before = line[:m.start(1)] if m else line
    return strip_prefix(line)[1] == "", len(before.replace(" ", "").replace("[", ""))


def _after(line: str) -> str:
    """What follows a line's first "]": the same in two copies of a printk line, the one whose start
    another program's output ate ("  484.818219] BUG: ...") and the other."""
    return line[line.find("]") + 1:]
