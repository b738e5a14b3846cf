"""Kernel command-line words: the one rule for series.yaml `cmdline:`, a workload's `cmdline:` and
`--append` (and a bisect step's request.json), so no path takes what another refuses.

Each word reaches vng's --append and reproducer.sh, so it must be one word with no shell meaning:
letters, digits and . , : / = % + - _ (movablecore=25%, page_owner=on, dyndbg-free).
"""

from __future__ import annotations

import re

from bench.base.errors import UserError, quote
from bench.run import kernel_checks

_WORD = re.compile(r"[\w.,:/=%+-]+", re.ASCII)
RULE = "one word of letters, digits and . , : / = % + - _ (no spaces, quotes, $ or backquotes)"
# Words that silence, filter or move the console the scanner reads: with `quiet` or `loglevel=3`
# a WARNING (KERN_WARNING) is not printed there (later words win over vng's own).
_HIDES = re.compile(r"(quiet|loglevel=.*|console=.*|console_msg_format=.*|sysctl\.kernel\.printk=.*"
                    r"|printk\.console_no_auto_verbose.*)", re.ASCII)


# The bench's own words, before every other (the last of a parameter wins). An oops, a hung task or
# a soft lockup fails the run either way; panicking ends the VM at once (vng exits 255) instead of at
# the VM timeout a kernel deadlocked after a BUG runs into (syzkaller boots with oops=panic too).
# Then the checks of bench/run/kernel_checks.py.
FATAL_ENDS_THE_VM = ("oops=panic", "hung_task_panic=1", "softlockup_panic=1")
OWN = (*FATAL_ENDS_THE_VM, *kernel_checks.WORDS)
_OWN_NAMES = {w.split("=", 1)[0]: w for w in OWN}
# Words that turn off a detector a fragment builds in (kconfigs/: the soft lockup and hung task
# detectors, DEBUG_OBJECTS, lockdep, KFENCE), or one of the bench's own words by the sysctl behind
# it (sysctl.kernel.panic_on_oops=0 undoes oops=panic): as quiet hides reports, these stop them.
_SILENCES = re.compile(r"(nosoftlockup|nowatchdog|watchdog_thresh=.*|no_debug_objects|lockdep\.prove_locking=0+"
                       r"|kfence\.sample_interval=0+|sysctl\.kernel\.(panic_on_oops|hung_task_panic|softlockup_panic"
                       r"|hung_task_timeout_secs|watchdog|soft_watchdog|watchdog_thresh)=.*)", re.ASCII)


def check(words: tuple[str, ...] | list[str], where: str) -> tuple[str, ...]:
    """words, each a kernel parameter; else a UserError naming `where` and the first bad word."""
    for word in words:
        if not isinstance(word, str) or not _WORD.fullmatch(word):
            raise UserError(f"{where}: kernel parameter {quote(word)} has spaces, quotes or $: want {RULE}")
        if _HIDES.fullmatch(word):
            raise UserError(f"{where}: kernel parameter {quote(word)} would hide kernel reports "
                            "from the console the scan reads")
        if _SILENCES.fullmatch(word):
            raise UserError(f"{where}: kernel parameter {quote(word)} would turn off a check of the run"
                            " (a detector the configuration builds in, or one of the bench's own words by sysctl)")
        if (own := _OWN_NAMES.get(word.split("=", 1)[0])) is not None and word != own:
            # after the bench's own word, it would win: `page_owner=off` made the pages oracle
            # SKIP (a PASS) for a series leaking pages, `page_poison=0` silenced its reports
            raise UserError(f"{where}: kernel parameter {quote(word)} would turn off the bench's own"
                            f" {quote(own)} (a check of the run)")
    return tuple(words)
