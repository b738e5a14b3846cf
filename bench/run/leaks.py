"""The pages oracle: what a workload left behind once its processes exited, counted in pages,
not in calls (the FOLL_PIN counters count calls: a reference leak that is not a pin, or pin
arithmetic that balances, passes them). Pure, like bench/run/oracles.py: guest readings in, Cases out.

guests/pages.sh reads, around each workload NAME (after sync, drop_caches and compaction):
NAME.pids (the last pid before it and after it: its processes are the pids in between),
NAME.meminfo.start|end, NAME.page_owner (page_owner records whose tgid is in that window) and
NAME.alive (pids still running: their pages are theirs). Once a run: page_owner.state (present
or missing) and cmdline (/proc/cmdline). docs/oracles.md says what is checked and what is not.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.base import files, rundir
from bench.base.limits import LIMITS
from bench.run import kernel_checks, page_owner
from bench.run.guests import TIMEOUT_RC
from bench.run.page_owner import Record
from bench.run.result import Case, Status

GROUP = "pages"


@dataclass(frozen=True)
class Tolerance:
    """How much a workload may leave behind and still pass (docs/oracles.md says why)."""

    # User pages page_owner still sees allocated to the workload's exited processes. Not 0: a
    # shared library page a workload process faulted in first and a udev worker still mapped
    # when the caches were dropped stays cached (8 pages after gup-test's mount, real 6.12
    # baseline), and a log a workload leaves on tmpfs (/tmp/fio.out: 1 page) is still a file.
    leaked_pages: int = 32
    # ... of them anonymous memory (allocated by an anonymous fault, not in the swap cache): an
    # exited process's anonymous page has no owner left; none stayed in any recorded healthy run
    # (2026-12-05: 0 in every baseline, control and passing bug run; 8192 in canary-pages).
    leaked_anon_pages: int = 0
    # MemFree may drop by this much across a workload (kernel caches that stay: slab, page
    # tables of the runner, stack depot growth under page_owner, per-CPU lists), whichever is
    # larger: a floor in kB or a share of MemTotal.
    memfree_kb: int = 64 * 1024
    memfree_share: float = 0.03
    # hugetlb pages in use and THP (anon, shmem, file) after the workload, over its start.
    hugetlb_pages: int = 0
    thp_kb: int = 0


TOLERANCE = Tolerance()
STACKS_SHOWN = 5  # groups of leaked pages with their stacks in a failing case
FRAMES_SHOWN = 16
# The page allocator's own frames at the top of every stack: the same for every allocation.
_ALLOCATOR = re.compile(r"^(?:prep_new_page|post_alloc_hook|get_page_from_freelist|__alloc_pages_slowpath"
                        r"|_*alloc_pages(?:_mpol)?(?:_noprof)?|_*folio_alloc(?:_mpol)?(?:_noprof)?|vma_alloc_folio(?:_noprof)?"
                        r"|__alloc_frozen_pages(?:_noprof)?)[+.]")


@dataclass(frozen=True)
class Support:
    ok: bool
    why: str = ""  # when not ok: why the page count was not checked
    broken: bool = False  # not ok because the kernel under test lost page_owner: a failure


def _read(path: Path, limit: int = LIMITS.guest_file) -> str | None:
    """A reading the guest wrote: bounded, a regular file only, no symlink followed (the guest
    controls the folder: a FIFO would hang the host, a link to /dev/zero fill its memory)."""
    return files.read_guest(path, limit)


def _read_config(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def support(guest_dir: Path, config: str) -> Support:
    """Whether page_owner could be read in this boot, and if not, whose doing that is."""
    if not kernel_checks.built_with(config, "CONFIG_PAGE_OWNER"):
        return Support(False, "unsupported: the kernel was built without CONFIG_PAGE_OWNER")
    word = kernel_checks.last_value((_read(guest_dir / rundir.CMDLINE) or "").split(), "page_owner")
    if word is None or kernel_checks.kstrtobool(word) is not True:
        return Support(False, "page_owner is off on the kernel command line"
                              f" ({'page_owner=' + word if word is not None else 'no page_owner=on'})")
    state = (_read(guest_dir / rundir.PAGE_OWNER_STATE) or "").strip()
    if state == "present":
        return Support(True)
    if state == "missing":
        return Support(False, "kernel built with CONFIG_PAGE_OWNER=y and booted with page_owner=on has no"
                              " /sys/kernel/debug/page_owner", broken=True)
    return Support(False, "the guest runner left no page_owner reading (an older runner?)")


def _count(word: str) -> int | None:
    """A count, size or pid the guest wrote (a whole number, not negative), else None."""
    n = files.guest_int(word)
    return n if n is not None and n >= 0 else None


def meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo: key -> value (kB, or pages for the HugePages_* counts)."""
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        value = rest.split()
        if value and (n := _count(value[0])) is not None:
            out[key.strip()] = n
    return out


def counter_problems(start: dict[str, int], end: dict[str, int], tol: Tolerance = TOLERANCE) -> list[str]:
    """MemFree, hugetlb pages in use and THP back where they were (within tol)."""
    problems = []
    if "MemFree" in start and "MemFree" in end:
        allowed = max(tol.memfree_kb, int(start.get("MemTotal", 0) * tol.memfree_share))
        if (drop := start["MemFree"] - end["MemFree"]) > allowed:
            problems.append(f"MemFree {drop // 1024} MiB lower than before it (tolerance {allowed // 1024} MiB)")
    if all(k in d for d in (start, end) for k in ("HugePages_Total", "HugePages_Free")):
        used = [d["HugePages_Total"] - d["HugePages_Free"] for d in (start, end)]
        if used[1] - used[0] > tol.hugetlb_pages:
            problems.append(f"{used[1] - used[0]} hugetlb page(s) still in use (HugePages_Total - HugePages_Free"
                            f" {used[0]} -> {used[1]}, tolerance {tol.hugetlb_pages})")
    for key in ("AnonHugePages", "ShmemHugePages", "FileHugePages"):
        if key in start and key in end and end[key] - start[key] > tol.thp_kb:
            problems.append(f"{key} {start[key]} -> {end[key]} kB (THP still allocated, tolerance {tol.thp_kb} kB)")
    return problems


# Allocation frames of anonymous memory (mm/memory.c, mm/huge_memory.c): a page one of these
# allocated is a process's private page, never a cache.
_ANON = re.compile(r"^(?:do_anonymous_page|alloc_anon_folio|wp_page_copy|do_huge_pmd_anonymous_page"
                   r"|__do_huge_pmd_anonymous_page|vma_alloc_anon_folio_pmd|do_huge_zero_wp_pmd)[+.]")


# The generic fault entry (every architecture's fault handler and GUP's faultin_page() call it).
_FAULT = re.compile(r"^_*handle_mm_fault[+.]")
# A small anonymous page is the one thing a fault allocates zeroed and movable (mm/memory.c
# vma_alloc_zeroed_movable_folio(), for do_anonymous_page() and a COW of the zero page): page
# tables are GFP_PGTABLE_USER, page cache and shmem folios are not zeroed by the allocator. The
# mask tells it where the frames cannot: 6.12 inlines do_anonymous_page() and alloc_anon_folio()
# into __handle_mm_fault(), and the stack reads vma_alloc_folio_noprof, __handle_mm_fault.
_ANON_GFP = frozenset({"GFP_HIGHUSER_MOVABLE", "__GFP_ZERO"})


def anonymous(rec: Record) -> bool:
    """Allocated by an anonymous fault (told by a frame) and not in the swap cache (which may
    keep a swapped page of an exited process until reclaim: free_swap_and_cache() only trylocks)."""
    return "swapcache" not in rec.flags and any(_ANON.match(f) for f in rec.stack)


def anonymous_by_mask(rec: Record) -> bool:
    """Not anonymous() by its frames, but allocated by a fault with an anonymous page's mask:
    counted under the page tolerance, not the anonymous one, and named in the case's message.
    Healthy 6.12 runs leave such pages now and then (16 of pin_matrix's own, one run in eight
    on 2026-12-06, holder not found: docs/oracles.md), so they cannot fail a run by themselves."""
    return ("swapcache" not in rec.flags and not anonymous(rec) and _ANON_GFP <= set(rec.gfp)
            and any(_FAULT.match(f) for f in rec.stack))


# The guest's own daemons, whose workers a workload's loop devices and mounts wake (their
# pids fall in its window): the library and rules pages a worker faulted into the page cache
# stay cached while its siblings map them at the drop, 40-50 pages after pin-matrix and odirect
# on healthy 6.12 boots (2026-12-05). Their anonymous pages still count.
DAEMONS = frozenset({"(udev-worker)", "systemd-udevd", "udevadm"})
# The setup tools the workload scripts run (guests/*.sh): their file pages are their own binary
# and libraries faulted in (filemap_fault), cached like a daemon's; mkswap's 36 such pages
# failed pages/mm-selftests on a healthy run (catalogue2 prove, 2026-12-05). They pin nothing,
# so a leak through a pin is never theirs; their anonymous pages still count.
SETUP_TOOLS = frozenset({"mkswap", "swapon", "swapoff", "mkfs.ext4", "mke2fs", "mkfs.vfat", "mkfs.fat",
                         "losetup", "mount", "umount", "modprobe"})
NOT_THEIRS = DAEMONS | SETUP_TOOLS
# swapoff(2) reads back every page on the area, whoever owns it: another process's anonymous
# page (mapped again, so not counted), a tmpfs or shmem file's page (shmem_unuse()), a
# readahead neighbour. page_owner names the caller, so a workload that turns swap off is charged
# with other owners' pages: 176 of them, dirty shmem and swap-backed, after pin-matrix's swapoff
# cells on a healthy run (20261207-131230). As with the swapoff tool, its anonymous pages count.
_FOR_OTHERS = re.compile(r"^(?:__x64_sys_swapoff|__arm64_sys_swapoff|__se_sys_swapoff|__do_sys_swapoff"
                         r"|try_to_unuse|shmem_unuse)[+.]")


def for_others(rec: Record) -> bool:
    """Allocated by swapoff(2) on behalf of the owners of the swap entries it reads back."""
    return any(_FOR_OTHERS.match(f) for f in rec.stack)


def leaked(dump: page_owner.Dump, alive: set[int], mapped: dict[int, int] | None = None) -> list[Record]:
    """The user pages of processes that no longer run, that no page table maps (mapped: pfn ->
    map count, where the guest could look it up); of the guest's daemons and setup tools, and
    of what swapoff(2) read back for other owners, anonymous pages only."""
    mapped = mapped or {}
    return [r for r in dump.records if r.user and r.tgid not in alive and mapped.get(r.pfn, 0) == 0
            and ((r.comm not in NOT_THEIRS and not for_others(r)) or anonymous(r))]


def _frames(rec: Record) -> tuple[str, ...]:
    frames = list(rec.stack)
    while frames and _ALLOCATOR.match(frames[0]):
        frames.pop(0)
    return tuple(frames[:FRAMES_SHOWN])


def stacks(records: Sequence[Record]) -> str:
    """The records grouped by allocation stack, the most pages first, each with its count."""
    pages: Counter[tuple[str, ...]] = Counter()
    first: dict[tuple[str, ...], Record] = {}
    for rec in records:
        key = _frames(rec)
        pages[key] += rec.pages
        first.setdefault(key, rec)
    out = []
    for key, n in pages.most_common(STACKS_SHOWN):
        rec = first[key]
        out.append(f"{n} page(s) allocated by {rec.comm} (pid {rec.pid}, tgid {rec.tgid}, first seen),"
                   f" order {rec.order}, {'|'.join(rec.gfp)}, flags now ({rec.flags or '?'}):")
        out += [f"    {f}" for f in key] or ["    (no stack)"]
    if len(pages) > STACKS_SHOWN:
        rest = sum(n for _, n in pages.most_common()[STACKS_SHOWN:])
        out.append(f"... and {rest} page(s) from {len(pages) - STACKS_SHOWN} other stack(s)")
    return "\n".join(out)


def _window(text: str | None) -> tuple[int, int] | None:
    nums = [n for t in (text or "").split() if (n := _count(t)) is not None]
    return (nums[0], nums[1]) if len(nums) >= 2 else None


def pages_case(name: str, guest_dir: Path, sup: Support, tol: Tolerance = TOLERANCE) -> Case | None:
    """pages/NAME, or None when the workload left no end reading (it never ended: its own case says so)."""
    def own(kind: str) -> str | None:  # the workload's own file
        return _read(guest_dir / rundir.of_workload(name, kind),
                     LIMITS.guest_page_owner if kind == rundir.PAGE_OWNER else LIMITS.guest_file)

    window = _window(own(rundir.PIDS))
    start, end = (own(f"{rundir.MEMINFO}.{s}") for s in ("start", "end"))
    if window is None or start is None or end is None:
        return None
    if (own(rundir.RC) or "").split()[:1] == [str(TIMEOUT_RC)]:
        # killed mid-run, its own clean-up (unmounts, file removal) never ran: what it left says
        # nothing about a leak, and its workload case already fails on the timeout
        return Case(GROUP, name, Status.SKIP, 0.0, "pages not counted: the workload was stopped at its"
                                                   " timeout, before its own clean-up")
    problems = counter_problems(meminfo(start), meminfo(end), tol)
    if stuck := (own(rundir.COMPACTION) or "").strip().splitlines()[:1]:
        # folios left isolated make compaction wait for ever: a leak no page count sees
        problems.insert(0, f"the compaction after it {stuck[0][:200]}: folios left isolated off the LRU")
    evidence, counted, not_counted = "", "", "" if sup.ok else sup.why
    if sup.ok:
        dump = page_owner.parse((own(rundir.PAGE_OWNER) or "").splitlines())
        alive = {n for t in (own(rundir.ALIVE) or "").split() if (n := _count(t)) is not None}
        left = leaked(dump, alive, page_owner.mapcounts((own(rundir.MAPCOUNT) or "").splitlines()))
        n = sum(r.pages for r in left)
        anon = sum(r.pages for r in left if anonymous(r))
        masked = sum(r.pages for r in left if anonymous_by_mask(r))
        short = "" if dump.seen == dump.kept else f"; {dump.seen - dump.kept} more record(s) not kept by the guest"
        more = f" ({masked} more by an anonymous fault's mask, under the page tolerance)" if masked else ""
        counted = (f"{n} user page(s) left by its exited processes, {anon} of them anonymous{more}, tolerance"
                   f" {tol.leaked_pages} and {tol.leaked_anon_pages} (pids {window[0] + 1}..{window[1]},"
                   f" {dump.read} page_owner records read{short})")
        if dump.read == 0:  # page_owner lists every allocated page: never none on a live kernel
            not_counted = "no complete read of page_owner (the guest's awk failed or was stopped)"
        elif n > tol.leaked_pages or anon > tol.leaked_anon_pages:
            problems.insert(0, f"{n} user page(s) still allocated to its exited processes after sync, drop_caches"
                               f" and compaction, {anon} of them anonymous{more} (tolerance {tol.leaked_pages},"
                               f" anonymous {tol.leaked_anon_pages}){short}")
            evidence = stacks(left)
        elif dump.bad_lines:  # a record format this parser does not read: its pages went uncounted
            not_counted = f"{dump.bad_lines} line(s) of page_owner in no format this bench reads"
        elif dump.seen > dump.kept:  # within tolerance only because records were not looked at
            not_counted = f"{dump.seen - dump.kept} of {dump.seen} record(s) not kept by the guest"
    if problems:
        return Case(GROUP, name, Status.FAIL, 0.0, f"{name} left memory behind: {'; '.join(problems)}",
                    evidence + (f"\n(page count not checked: {not_counted})" if not_counted else ""))
    if sup.broken:
        return Case(GROUP, name, Status.FAIL, 0.0, sup.why)
    if sup.ok and not_counted:
        return Case(GROUP, name, Status.ERROR, 0.0, f"pages not counted: {not_counted}")
    if not_counted:
        return Case(GROUP, name, Status.SKIP, 0.0, f"pages not counted: {not_counted}; MemFree, hugetlb and THP"
                                                   " counters back to their start")
    return Case(GROUP, name, Status.PASS, 0.0, f"{counted}; MemFree, hugetlb and THP back to their start")


def pages_cases(names: Sequence[str], guest_dir: Path, config: Path, tol: Tolerance = TOLERANCE) -> list[Case]:
    """A pages/NAME case per workload that ended (config: the tested kernel's .config); a failing
    one's stacks also go at the end of the workload's own log (guest/NAME.log), where people look first."""
    sup = support(guest_dir, _read_config(config) or "")
    cases = [c for n in names if (c := pages_case(n, guest_dir, sup, tol)) is not None]
    for c in cases:
        if c.status is Status.FAIL:  # not through a link the guest planted: it could lead to a host file
            files.append_guest(guest_dir / rundir.of_workload(c.name, rundir.LOG),
                               f"\n== pinbench pages oracle (host): FAIL: {c.message}\n{c.output}\n")
    return cases
