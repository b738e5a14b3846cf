"""The kernel's own checks a run switches on from the command line: each needs a config option
(kconfigs/debug-vm.config sets the first two; no fragment of the project sets the third, a
user's own may) and a boot word, and does nothing without either.

Data first: the words go on every boot before `--append` (so `--append page_poison=0` turns one
off: the last word wins), and the run says which are on, since a check that is off passes by
saying nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class KernelCheck:
    word: str  # the boot word that turns it on
    option: str  # the config option without which the word is a no-op
    what: str  # what it finds, for the run's line


CHECKS: tuple[KernelCheck, ...] = (
    # The pages oracle (bench/run/leaks.py) reads its records.
    KernelCheck("page_owner=on", "CONFIG_PAGE_OWNER", "page_owner (pages left by exited processes)"),
    # Every freed page is filled with 0xaa and checked when it is next allocated: a write into a
    # freed page (a DMA or kmap through a pin whose page was freed, a stale TLB entry) prints
    # "pagealloc: memory corruption" (mm/page_poison.c), a kernel report of the run.
    KernelCheck("page_poison=1", "CONFIG_PAGE_POISONING", "page poisoning (writes into freed pages)"),
    # Freed pages leave the kernel's direct map: a kernel access to a freed page (through a stale
    # bvec, skb frag or kmap) faults where it happens, a read as well as a write. No fragment here
    # builds it: on the default kernel it cost 1.6x of the guest time and khugepaged's selftest
    # failed (docs/oracles.md); `--kconfig` of one that sets CONFIG_DEBUG_PAGEALLOC turns it on.
    KernelCheck("debug_pagealloc=on", "CONFIG_DEBUG_PAGEALLOC", "debug_pagealloc (kernel accesses to freed pages)"),
)
WORDS: tuple[str, ...] = tuple(c.word for c in CHECKS)


def kstrtobool(value: str) -> bool | None:
    """The kernel's kstrtobool() (lib/kstrtox.c), which every word is parsed with: None when
    the kernel would refuse the value (and leave the check at its default, off)."""
    first, second = value[:1].lower(), value[1:2].lower()
    if first in ("e", "y", "t", "1"):
        return True
    if first in ("d", "n", "f", "0"):
        return False
    if first == "o":
        return {"n": True, "f": False}.get(second)
    return None


def last_value(cmdline: Sequence[str], key: str) -> str | None:
    """The value of the last KEY= word (the kernel's own rule: the last one wins), or None."""
    values = [w.split("=", 1)[1] for w in cmdline if w.startswith(key + "=")]
    return values[-1] if values else None


def built_with(config: str, option: str) -> bool:
    """Whether the .config's text sets OPTION=y."""
    return f"{option}=y" in config.splitlines()


def states(config: str, cmdline: Sequence[str]) -> list[str]:
    """One line a check: on, or off and why (the .config's text, the boot's words in order)."""
    out = []
    for c in CHECKS:
        key = c.word.split("=", 1)[0]
        got = last_value(cmdline, key)
        if not built_with(config, c.option):
            out.append(f"{c.what}: off, the kernel was built without {c.option}")
        elif got is None or kstrtobool(got) is not True:
            out.append(f"{c.what}: off, {key}={got} on the command line" if got is not None
                       else f"{c.what}: off, no {c.word} on the command line")
        else:
            out.append(f"{c.what}: on")
    return out
