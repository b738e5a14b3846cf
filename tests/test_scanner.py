"""bench.report.scanner against real console logs (tests/data/console/*.log) plus targeted unit tests.

Each fixture is a real log (its source is in the ``#@ SOURCE:`` header) headed by ``#@ KEY: value``
lines giving the expected result. TITLE/TYPE/CORRUPTED/FUNC/TAINT lines are per report, in log
order (a shorter list checks only the first reports); COUNT is the number of reports (default:
the number of TITLE lines, so a log without a header must be clean) and FOLDED the number of
distinct titles.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.base.errors import UserError
from bench.report import scanner as dmesg
from bench.report.copies import doubled
from bench.report.known import load_suppressions
from bench.report.oops_table import ANCHOR_RES, ANCHOR_WORDS, GROUPS, PRE, PRE_ANCHORS
from bench.report.prefix import source_path, strip_many
from bench.report.render import format_report, report_to_dict
from bench.report.scanner import Report, fold, is_helper, normalize, scan, strip_prefix
from bench.report.segment import PRE_LOOKBACK
from bench.report.walk import line_info

CONSOLE = Path(__file__).parent / "data" / "console"
FIXTURES = sorted(CONSOLE.glob("*.log"))
# syzkaller's own parser test logs: only the first report's title is known (syzkaller titles one).
SYZKALLER = sorted((CONSOLE / "syzkaller").glob("*.log"))


@dataclass(frozen=True)
class Fixture:
    header: dict[str, list[str]]
    lines: list[str]

    def get(self, key: str) -> list[str]:
        return self.header.get(key, [])


def load(path: Path) -> Fixture:
    header: dict[str, list[str]] = {}
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#@ "):
            key, _, value = line[3:].partition(":")
            header.setdefault(key.strip(), []).append(value.strip())
        else:
            lines.append(line)
    return Fixture(header, lines)


def reports_of(name: str) -> list[Report]:
    return scan(load(CONSOLE / name).lines)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture(path: Path) -> None:
    fx = load(path)
    reports = scan(fx.lines)
    if fx.header:
        assert fx.get("SOURCE"), "every fixture names where its log comes from"
    count = int(fx.get("COUNT")[0]) if fx.get("COUNT") else len(fx.get("TITLE"))
    assert [r.title for r in reports] == fx.get("TITLE")
    assert len(reports) == count
    for key, attr in (("TYPE", "type"), ("FUNC", "guilty_func"), ("TAINT", "taint")):
        want = fx.get(key)
        assert [getattr(r, attr) for r in reports[:len(want)]] == want, key
    want_corrupted = [v == "Y" for v in fx.get("CORRUPTED")]
    assert [r.corrupted for r in reports[:len(want_corrupted)]] == want_corrupted
    if fx.get("FOLDED"):
        assert len(fold(reports)) == int(fx.get("FOLDED")[0])


@pytest.mark.parametrize("path", SYZKALLER, ids=[p.name for p in SYZKALLER])
def test_syzkaller_fixture(path: Path) -> None:
    fx = load(path)
    assert fx.get("SOURCE"), "every syzkaller fixture names its source"
    reports = scan(fx.lines)
    if not fx.get("TITLE"):  # syzkaller finds no report in it
        assert reports == []
        return
    # DIFFERS documents a log where our title is not syzkaller's (its stored test expectation
    # predates a rule change), so a change of ours is still caught.
    want = fx.get("DIFFERS") or fx.get("TITLE")
    assert reports and reports[0].title == want[0]


@pytest.mark.parametrize("path", FIXTURES + SYZKALLER, ids=[p.name for p in FIXTURES + SYZKALLER])
def test_fixture_invariants(path: Path) -> None:
    lines = load(path).lines
    reports = scan(iter(lines))  # any iterable, read once
    assert reports == scan(lines)
    assert [r.first_line for r in reports] == sorted(r.first_line for r in reports)
    for r in reports:
        assert r.raw[0] == lines[r.first_line] and r.raw[-1] == lines[r.last_line]
        assert set(r.raw) <= set(lines)
        assert r.corrupted == bool(r.corrupted_reason)
        assert all("." not in f and "+0x" not in f for f in r.call_trace)
        json.dumps(report_to_dict(r, 1))


# "#@ WRAPPED:" marks a log a mail client wrapped inside a report: only the printk prefixes tell its
# wrapped pieces (unprefixed) from the lines around them, so its title needs them. "#@ DOUBLED:" a
# console that printed every line twice: only the time stamps tell a copy from a line printed again.
NO_CALLER_IDS = [p for p in FIXTURES if "[ T" not in (t := p.read_text()) and "][T" not in t
                 and "\n#@ WRAPPED:" not in t and "\n#@ DOUBLED:" not in t]


@pytest.mark.parametrize("path", NO_CALLER_IDS, ids=[p.name for p in NO_CALLER_IDS])
def test_titles_do_not_depend_on_prefixes(path: Path) -> None:
    lines = load(path).lines
    bare = [strip_prefix(line)[0] for line in lines]
    assert [r.title for r in scan(bare)] == [r.title for r in scan(lines)]


# --- prefix stripping (lines from the fixtures) -------------------------------------------------

@pytest.mark.parametrize("line, text, ctx", [
    ("[   81.067630][ T1644] BUG: KASAN: slab-use-after-free in idxd_dma_complete_txd+0x418/0x510 [idxd]",
     "BUG: KASAN: slab-use-after-free in idxd_dma_complete_txd+0x418/0x510 [idxd]", "T1644"),
    ("[   27.963591] [ T2553] WARNING: CPU: 1 PID: 2553 at include/linux/rmap.h:427 __folio_rmap_sanity_checks+0x1a0/0x270",
     "WARNING: CPU: 1 PID: 2553 at include/linux/rmap.h:427 __folio_rmap_sanity_checks+0x1a0/0x270", "T2553"),
    ("  [  102.088279][T14893] WARNING: CPU: 0 PID: 14893 at ./include/linux/memcontrol.h:726 folio_lruvec_lock_irqsave+0x10e/0x170",
     "WARNING: CPU: 0 PID: 14893 at ./include/linux/memcontrol.h:726 folio_lruvec_lock_irqsave+0x10e/0x170", "T14893"),
    ("<3>[   62.180289] BUG: KFENCE: out-of-bounds read in d_same_name+0x4c/0xd0",
     "BUG: KFENCE: out-of-bounds read in d_same_name+0x4c/0xd0", "k"),
    ("Jan 3 14:25:27 ceph-testing-0001 kernel: [ 369.894678] INFO: task kworker/u48:0:11 blocked for more than 122 seconds.",
     "INFO: task kworker/u48:0:11 blocked for more than 122 seconds.", "k"),
    ("[  129.433301]  __do_fault+0xf2/0x5a0", " __do_fault+0xf2/0x5a0", "k"),  # frame indent kept
    (" WARNING: drivers/infiniband/sw/rxe/rxe_task.c:38 at rxe_sched_task+0x1c0/0x238 [rdma_rxe], CPU#0: swapper/0/0",
     " WARNING: drivers/infiniband/sw/rxe/rxe_task.c:38 at rxe_sched_task+0x1c0/0x238 [rdma_rxe], CPU#0: swapper/0/0", ""),
    ("(XEN) Hardware Dom0 crashed: rebooting machine in 5 seconds.",
     "(XEN) Hardware Dom0 crashed: rebooting machine in 5 seconds.", ""),
    # MediaTek's "(cpu)[pid:comm]" caller field, "-" before it with IRQs off, no separator after it
    ("<1>[  976.945656] (5)[7247:insmod]Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000",
     "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000", "T7247"),
    ("<4>[  976.946820]-(5)[7247:insmod] dump_backtrace+0x0/0x18c", " dump_backtrace+0x0/0x18c", "T7247"),
    ("[  976.946820]-(5)[0:swapper/5] ipi_handler+0x1/0x2", " ipi_handler+0x1/0x2", "C5"),  # idle: per CPU
    # PREEMPT_RT's CPU number
    ("[  363.410141] 000: BUG: sleeping function called from invalid context at kernel/locking/rtmutex.c:974",
     "BUG: sleeping function called from invalid context at kernel/locking/rtmutex.c:974", "C0"),
    ("[  363.410222] 000:  dump_backtrace+0x0/0x158", " dump_backtrace+0x0/0x158", "C0"),
    # journalctl -o short-monotonic: "kernel: " (or "host kernel: ") after printk's stamp
    ("[ 1.980703] kernel: UBSAN: array-index-out-of-bounds in /build/linux-9H675w/linux-5.15.0/drivers/ata/libahci.c:968:41",
     "UBSAN: array-index-out-of-bounds in /build/linux-9H675w/linux-5.15.0/drivers/ata/libahci.c:968:41", "k"),
    ("[ 1.980754] kernel: ? vprintk_default+0x1d/0x20", "? vprintk_default+0x1d/0x20", "k"),
    ("[ 1.980754] myhost kernel:  ? vprintk_default+0x1d/0x20", " ? vprintk_default+0x1d/0x20", "k"),
    # /dev/kmsg and extended netconsole records (text as printed: a continuation keeps its space)
    ("4,1512,12767657207,-;WARNING: CPU: 4 PID: 16786 at kernel/softirq.c:362 __local_bh_enable_ip+0x43/0x70 ",
     "WARNING: CPU: 4 PID: 16786 at kernel/softirq.c:362 __local_bh_enable_ip+0x43/0x70 ", "k"),
    ("4,1510,12767657189,c; acpi_cpufreq gpio_amdpt button", " acpi_cpufreq gpio_amdpt button", "k"),
    ("6,339,5140900,-,caller=T1; foo+0x1/0x3", " foo+0x1/0x3", "T1"),
    # printk's stamp whose "[" the shell's job output ate
    ("  484.818219] BUG: Bad rss-counter state mm:(____ptrval____) idx:0 val:-1",
     "BUG: Bad rss-counter state mm:(____ptrval____) idx:0 val:-1", "k"),
    ("[  12.000000] 8021q: adding VLAN 0 to HW filter", "8021q: adding VLAN 0 to HW filter", "k"),
    # a serial tool's blank before the stamp's "]" (LoongArch KFENCE report, 2023)
    ("[    1.531442 ] BUG: KFENCE: out-of-bounds read in stack_trace_save_regs+0x48/0x6c",
     "BUG: KFENCE: out-of-bounds read in stack_trace_save_regs+0x48/0x6c", "k"),
    ("[    1.532046 ]  stack_trace_save_regs+0x48/0x6c", " stack_trace_save_regs+0x48/0x6c", "k"),
    # ... printk's six digits: a program's elapsed time with a blank before "]" is no stamp
    ("[ 2.0 ] BUG: expected", "[ 2.0 ] BUG: expected", ""),
    # a journal excerpt whose date and host the author left out as "..."
    ("... kernel: INFO: task khugepaged:351 blocked for more than 1 seconds.",
     "INFO: task khugepaged:351 blocked for more than 1 seconds.", "k"),
    ("... kernel:  __schedule+0x2bd/0x7f0", " __schedule+0x2bd/0x7f0", "k"),
    ("... and more", "... and more", ""),  # an elision alone is no prefix
])
def test_strip_prefix(line: str, text: str, ctx: str) -> None:
    assert strip_prefix(line) == (text, ctx)
    assert strip_many([line]) == [(text, ctx)]  # the batch path (a regex over many lines) agrees


# --- titles and normalisation --------------------------------------------------------------------

def test_title_is_stable_across_boots() -> None:
    # The same WARN on another boot: other time stamps, pid, addresses and offsets.
    lines = load(CONSOLE / "gup-warn-then-vm-bug-arm32.log").lines[1:30]
    other = [line.replace("457.", "12.").replace("PID: 577", "PID: 4242").replace("0x1c0/0x200", "0x1c4/0x200")
             for line in lines]
    assert [r.title for r in scan(other)] == [r.title for r in scan(lines)] == ["WARNING in try_grab_folio"]


def test_normalize_addresses() -> None:
    line = "Oops: general protection fault, probably for non-canonical address 0xdffffc0000000006: 0000 [#1]"
    assert normalize(line) == "Oops: general protection fault, probably for non-canonical address ADDR: 0000 [#1]"
    assert normalize("ffff8881398a8000, but was 0000000000000000") == "ADDR, but was ADDR"
    assert normalize("stuck for 22s! [swapper/0:1]", numbers=True) == "stuck for NUMs! [swapper/NUM:NUM]"


def test_clone_suffixes_and_inline_frames_are_dropped() -> None:
    (rep,) = reports_of("vm-warn-on-once-folio-hmm.log")
    assert rep.call_trace[-2:] == ("dmirror_migrate_to_device", "dmirror_fops_unlocked_ioctl")
    (rep,) = reports_of("refcount-new-warn-format-syzbot.log")
    assert rep.call_trace[0] == "sctp_association_hold"  # __refcount_add ... [inline] skipped
    assert "sched_core_balance" in rep.call_trace  # the interrupted context's RIP counts as a frame


def test_guilty_file_of_builds_outside_and_inside_the_tree() -> None:
    assert source_path("../src/mm/rmap.c") == "mm/rmap.c"  # make O=../build: the source tree's own directory goes
    assert source_path("../drivers/misc/lkdtm.c") == "drivers/misc/lkdtm.c"  # O= inside the tree: only "../"
    assert source_path("./include/linux/mm.h") == "include/linux/mm.h"
    bug, warn, _, _ = reports_of("arm32-lkdtm-four-oopses-in-tree-build-paths-4.3.log")
    assert bug.guilty_file == warn.guilty_file == "drivers/misc/lkdtm.c"


def test_helpers_are_not_guilty() -> None:
    assert is_helper("refcount_warn_saturate") and is_helper("__list_del_entry_valid")
    assert is_helper("__pfx_kthread") and is_helper("dump_stack_lvl")
    assert not is_helper("try_grab_folio") and not is_helper("do_wp_page")


# --- report shape ----------------------------------------------------------------------------

def test_vm_bug_on_page_keeps_the_dump_and_reason() -> None:
    (rep,) = reports_of("vm-bug-on-page-xen-boot.log")
    assert rep.title == "kernel BUG in xen_pin_page" and rep.type == "VM_BUG_ON_PAGE"
    assert rep.raw[0].endswith("page: refcount:1 mapcount:0 mapping:0000000000000000 index:0xffff888003450000 pfn:0x344e")
    assert rep.detail == "VM_BUG_ON_PAGE(1 && PageCompound(page))"
    assert rep.panicked and "Attempted to kill the idle task" in rep.raw[-1]
    assert rep.call_trace[:3] == ("__xen_pgd_walk", "__xen_pgd_pin", "xen_enter_mmap")


def test_interleaved_task_lines_stay_out_of_the_report() -> None:
    kasan, gpf = reports_of("lkp-kasan-then-gpf-interleaved.log")
    assert all("T1644]" in line for line in kasan.raw + gpf.raw)
    assert kasan.raw[0].endswith("=" * 66) and kasan.raw[-1].endswith("=" * 66)
    assert kasan.detail == "slab-use-after-free Write"
    assert gpf.panicked and gpf.raw[-1].endswith("Kernel panic - not syncing: Fatal exception")


def test_multi_line_records_without_prefix_are_kept() -> None:
    rcu, _ = reports_of("rcu-suspicious-then-sleeping-kvm.log")
    assert "               other info that might help us debug this:" in rcu.raw


def test_corruption_reasons() -> None:
    # The report says "..." where its stack was: no frame to title it by (syzkaller: "in corrupted").
    reasons = [r.corrupted_reason for r in reports_of("rxe-new-warn-format-elided.log")]
    assert reasons == ["", "extracted no frames", "extracted no frames", "extracted no frames"]
    (stall,) = reports_of("rcu-stall-cut-off-thunderbolt.log")
    assert stall.title == "INFO: rcu detected stall in corrupted" and stall.corrupted_reason == "extracted no frames"
    (panic,) = reports_of("panic-no-root-fs.log")
    assert panic.corrupted_reason == "no stack trace in report"


def test_fold_counts_and_keeps_the_first() -> None:
    reports = reports_of("rxe-new-warn-format-elided.log")
    folded = fold(reports)
    assert [(r.title, n) for r, n in folded] == [
        ("WARNING in rxe_sched_task", 1), ("WARNING in corrupted", 2), ("WARNING: refcount bug in corrupted", 1)]
    assert folded[0][0] is reports[0]


def test_report_to_dict_and_format() -> None:
    (rep,) = reports_of("kmemleak-tap-selftest.log")
    d = report_to_dict(rep, 3)
    assert {"title", "type", "corrupted", "guilty_func", "guilty_file", "count", "first_line",
            "taint", "call_trace"} <= d.keys()
    assert d["count"] == 3 and d["call_trace"] == ["__kmalloc_cache_noprof", "tun_vnet_ioctl_sethash",
                                                    "tap_ioctl", "__x64_sys_ioctl", "do_syscall_64",
                                                    "entry_SYSCALL_64_after_hwframe"]
    text = format_report(rep, 3, known=True)
    assert text.splitlines()[0] == "[KMEMLEAK] memory leak in tun_vnet_ioctl_sethash  (x3, known)"
    assert "unreferenced object 0xffff88800c6ec248 (size 8):" in text


def test_clean_lines_give_no_report() -> None:
    assert scan(load(CONSOLE / "rcu-stall-cut-off-thunderbolt.log").lines[:8]) == []
    assert scan([]) == []


# --- a doubled console (two consoles on one serial line: every printk line twice in a row) -------

_STAMPED = re.compile(r"\s*\[ *\d+\.\d{6}\]")


def _twice(lines: list[str]) -> list[str]:
    """lines as a doubled console gives them: each printk line twice in a row, other lines once."""
    return [copy for line in lines for copy in ([line] * (2 if _STAMPED.match(line) else 1))]


def _shape(reports: list[Report]) -> list[tuple[object, ...]]:
    return [(r.title, r.type, r.call_trace, r.corrupted, r.guilty_file, tuple(x for x in r.raw if x.strip()))
            for r in reports]


def test_a_doubled_console_gives_each_report_once() -> None:
    """Before: the doubled fixture gave "WARNING in corrupted" (its second header line cut the first
    report short) and "WARNING in folio_mkclean" with every frame twice."""
    once = reports_of("put-user-page-folio-mkclean-warn-6.12-tcg.log")
    twice = reports_of("put-user-page-folio-mkclean-warn-doubled-console-6.12-tcg.log")
    assert len(once) == 1 and _shape(twice) == _shape(once)
    assert _shape(scan(_twice(load(CONSOLE / "put-user-page-folio-mkclean-warn-6.12-tcg.log").lines))) == _shape(once)


@pytest.mark.parametrize("name", ["arm32-refcount-warn-no-call-trace-sam9x60-6.1.log",  # 2 pids, 23 s apart
                                  "warn-old-at-file-func-3.5-page-alloc.log"])  # 3, all at [    0.000000]
def test_reports_with_one_title_in_a_doubled_console_stay_apart(name: str) -> None:
    lines = load(CONSOLE / name).lines
    once, twice = scan(lines), scan(_twice(lines))
    assert len(once) >= 2 and len({r.title for r in once}) == 1
    assert _shape(twice) == _shape(once) and [n for _, n in fold(twice)] == [len(once)]


def test_a_line_the_kernel_printed_twice_is_kept() -> None:
    """Only doublings in a row are the console's: one line twice (the same "?" frame of a stack
    scan, same microsecond) is the kernel's own, as is the same text at another time."""
    lines = load(CONSOLE / "slab-corruption-old-slab-then-oops-quoted-3.6.log").lines
    assert any(a == b and _STAMPED.match(a) for a, b in zip(lines, lines[1:])) and doubled(lines) == []
    assert doubled(["[    1.000000] a", "[    1.000000] a", "[    1.000002] b", "[    1.000003] a"]) == []
    # this bench's own boots: the two lines printed while the boot console and ttyS0 were both on
    boot = load(CONSOLE / "clean-boot-6.12-tcg.log").lines
    assert [boot[i].split("] ", 1)[1] for i in doubled(boot)] == [
        "printk: legacy console [ttyS0] enabled", "printk: legacy bootconsole [earlyser0] disabled"]
    # a run of four: a line the kernel printed twice, doubled; another program's output ate a "["
    assert doubled(["[    2.000000] f", "[    2.000000] f", "[    2.000000] f", "[    2.000000] f",
                          "    2.000001] g", "[    2.000001] g"]) == [0, 2, 4]


# --- suppressions ----------------------------------------------------------------------------

def test_text_suppressions(tmp_path: Path) -> None:
    f = tmp_path / "known.txt"
    f.write_text("# rxe timer race, fixed upstream\n\n^WARNING in rxe_\nrefcount bug in\n")
    supp = load_suppressions(f)
    known = [any(p.search(r.title) for p in supp.patterns) for r in reports_of("rxe-new-warn-format-elided.log")]
    assert known == [True, False, False, True]


@pytest.mark.parametrize("text", [
    "- '^WARNING in rxe_'\n- title: 'refcount bug$'\n",
    "suppressions:\n  - '^WARNING in rxe_'\n  - {title: 'refcount bug$', reason: lkml}\n",
])
def test_yaml_suppressions(tmp_path: Path, text: str) -> None:
    f = tmp_path / "known.yaml"
    f.write_text(text)
    assert len(load_suppressions(f).patterns) == 2


@pytest.mark.parametrize("name, text, message", [
    ("bad.txt", "^WARNING in\n# ok\n(unclosed\n", "bad.txt:3: bad title regex '(unclosed'"),
    ("bad.yaml", "- ok\n- '(unclosed'\n", "bad.yaml:2: bad title regex '(unclosed'"),
    ("broken.yaml", "- ok\n- [unclosed\n", "broken.yaml:3: invalid YAML"),
    ("shape.yaml", "suppressions: 12\n", "shape.yaml:1: expected a list of title regexes"),
])
def test_bad_suppressions_name_file_and_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(UserError) as err:
        load_suppressions(f)
    assert str(err.value).startswith(str(tmp_path / message.split(":")[0]) + ":" + message.split(":", 1)[1])
    assert "\n" not in str(err.value)


def test_missing_suppressions_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="missing.txt: cannot read suppressions file"):
        load_suppressions(tmp_path / "missing.txt")


def test_out_of_tree_build_paths_are_tree_relative() -> None:
    # make O=../build prints "../src/mm/rmap.c" (tests/data/console/put-user-page-folio-mkclean-*)
    assert dmesg.source_path("../src/mm/rmap.c") == "mm/rmap.c"
    assert dmesg.source_path("./mm/gup.c") == "mm/gup.c"
    assert dmesg.source_path("mm/gup.c") == "mm/gup.c"


# --- categories, alternative titles, panics --------------------------------------------------------

@pytest.mark.parametrize("name, category", [
    ("put-user-page-folio-mkclean-warn-6.12-tcg.log", "linux.kernel.warning"),
    ("vm-bug-on-folio-uio.log", "linux.kernel.bug"),
    ("null-deref-oops-cbs.log", "linux.kernel.null_pointer_dereference"),
    ("page-fault-denali-trimmed.log", "linux.kernel.page_fault"),
    ("panic-no-root-fs.log", "linux.kernel.panic"),
    ("ubsan-shift-syzbot.log", "linux.kernel.ubsan"),
    ("kmsan-syzbot.log", "linux.kernel.kmsan"),
    ("lockdep-circular-gup-syzbot.log", "linux.kernel.lockdep"),
    ("hung-task-syslog-ceph.log", "linux.kernel.hung_task"),
    ("kmemleak-tap-selftest.log", "linux.kernel.memory_leak"),
    ("divide-error-mptcp-3.11.log", "linux.kernel.oops"),
])
def test_logspec_categories(name: str, category: str) -> None:
    assert reports_of(name)[0].category == category


def test_alternative_titles_follow_syzkaller() -> None:
    # syzkaller's own test expects these ALT titles for this log (pkg/report/testdata/linux/report/266).
    (rep,) = scan(load(CONSOLE / "syzkaller" / "266-soft-lockup-rmdir-4.17.log").lines)
    assert rep.title == "BUG: soft lockup in sys_rmdir"
    assert set(rep.alt_titles) == {"BUG: soft lockup in __x64_sys_rmdir", "stall in __x64_sys_rmdir",
                                   "stall in sys_rmdir"}


def test_every_panic_report_says_panicked() -> None:
    # reports.json used to say "panicked": false for a panic that is its own report.
    # The message is drivers/tty/sysrq.c's panic("sysrq triggered crash\n").
    (rep,) = scan(["[   17.536028] Kernel panic - not syncing: sysrq triggered crash"])
    assert rep.title == "kernel panic: sysrq triggered crash" and rep.panicked and rep.type == "PANIC"
    (root,) = reports_of("panic-no-root-fs.log")
    assert root.panicked


def test_consequence_panic_joins_its_report() -> None:
    (fault, warn) = reports_of("double-fault-kswapd-7.0-pstore.log")
    assert fault.panicked and any("Fatal exception in interrupt" in line for line in fault.raw)
    assert not warn.panicked


def test_only_the_dying_tasks_own_reports_join_its_oops() -> None:
    # A later oops whose own stack shows "? __die+0x.." (printed from inside die()) is a report of
    # its own, though it follows another oops of the same context within ATTACH lines; the three
    # reports whose stacks run through make_task_dead() are that first oops's fallout.
    first = load(CONSOLE / "gpf-then-three-fallout-reports-in-exit-6.16-next.log").lines
    second = load(CONSOLE / "page-fault-oops-oops-kasan-module-6.13.log").lines
    assert any("? __die+0x" in line for line in second)
    reports = scan(first + second)
    assert [r.title for r in reports] == ["general protection fault in __pte_offset_map_lock",
                                          "BUG: unable to handle kernel paging request in move_module"]


def test_header_anywhere_in_the_line() -> None:
    # A process list ran into the kernel line on this serial console (like syzkaller, find it anyway).
    (rep,) = reports_of("unregister-netdevice-interleaved-openwrt.log")
    assert rep.title == "unregister_netdevice: waiting for DEV to become free"


def test_every_header_contains_an_anchor() -> None:
    # The first pass only looks at lines with an anchor: a header without one is never found.
    for group in GROUPS:
        header = group.header
        assert any(rx.search(header) for rx in ANCHOR_RES) or any(w in header for w in ANCHOR_WORDS), header


def test_pre_report_anchors_cover_their_windows() -> None:
    # A pre-report line is only looked for where one of its anchors can still be in its window.
    for pre in PRE:
        inside = [(a, w) for a, w in PRE_ANCHORS if a in pre.pattern.pattern]
        assert inside and all(w >= pre.window for _, w in inside), pre.pattern.pattern
        assert pre.window <= PRE_LOOKBACK


@pytest.mark.parametrize("line", [
    # Real: arm32 warns about a user task's unaligned access it fixed up (a Gumstix Overo DSP
    # streaming how-to, gst-launch on the board's console).
    "[  744.724639] Alignment trap: v4l2src0:src (294) PC=0x4dbc1ed4 Instr=0x14913004 Address=0xb4eab01a FSR 0x001",
    # Real, quoted in LKML's "RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable" thread
    # (2022-07, <Yt07ZMAT+EEHvt/M@angband.pl>): a boot-time mitigation note.
    "RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable to RETBleed attacks, data leaks possible!",
    # Built from linux 6.12 printk formats (not captured): driver and user-space lines that share
    # a report header's words but are no kernel report.
    "[   12.345678] CacheFiles: Internal error: -5",  # fs/cachefiles/namei.c
    "[    3.210000] saa7134[0]: Oops: no 32bit PCI DMA ???",  # drivers/media/pci/saa7134/saa7134-core.c
    "[    8.100000] ipmmu-vmsa e67b0000.iommu: Unhandled fault: status 0x00000101 iova 0xfff000",  # drivers/iommu/ipmmu-vmsa.c
    "[  123.456789] traps: a.out[1234] general protection fault ip:401136 sp:7ffc2c3f8e60 error:0",  # x86 traps.c
])
def test_driver_firmware_and_user_lines_are_not_reports(line: str) -> None:
    assert scan([line]) == []


def test_chatter_does_not_hide_a_real_report_after_it() -> None:
    # A firmware INFO: line (TF-A, tests/data/console/clean-kernelci-*) is no report, but a panic
    # after it must still be one (it no longer joins the dropped line's report).
    lines = ["INFO:    BL31: Preparing for EL3 exit to normal world",
             "[    5.015319] Kernel panic - not syncing: corrupted stack end detected inside scheduler"]
    assert [r.title for r in scan(lines)] == ["kernel panic: corrupted stack end in corrupted"]
    # A WARNING: no format knows is still a report when a stack trace follows it.
    warn = ["[   10.000000] WARNING: something new went wrong", "[   10.000001] Call Trace:",
            "[   10.000002]  <TASK>", "[   10.000003]  foo_probe+0x12/0x40", "[   10.000004]  </TASK>"]
    assert [r.title for r in scan(warn)] == ["WARNING: something new went wrong"]


def test_stack_hints_cover_every_stack_line() -> None:
    # Chatter is decided by a raw substring check before any line is classified: every line the
    # walk takes for a stack marker, RIP or frame must contain one of the hints.
    for path in FIXTURES + SYZKALLER:
        for line in load(path).lines:
            text = strip_prefix(line)[0].strip()
            if line_info(text)[0] in ("stack", "rip", "frame"):
                assert any(h in line for h in dmesg._STACK_HINTS), line


# --- headers a mail client wrapped ---------------------------------------------------------------

@pytest.mark.parametrize("lines, title", [
    # the line wrapped without a trailing blank (NIPA's 6.17 console in a netdev reply)
    (["[  274.739699][ T2985] Oops: general protection fault, probably for",
      "non-canonical address 0xe2b11fc1bf7efa00: 0000 [#1] SMP KASAN",
      "[  274.741034][ T2985] RIP: 0010:bond_fill_info+0x4e9/0x17c0",
      "[  274.744645][ T2985] Call Trace:", "[  274.744650][ T2985]  rtnl_link_fill+0x22e/0x890",
      "[  274.744651][ T2985]  rtnl_fill_ifinfo+0x1/0x2", "[  274.744652][ T2985]  rtnl_dump_ifinfo+0x1/0x2"],
     "general protection fault in bond_fill_info"),
    # the 6.15+ WARNING format wrapped after "at"
    (["[ 5152.797586] WARNING: mm/page_counter.c:60 at",
      "page_counter_cancel+0x110/0x134, CPU#24: kworker/24:3/1074770",
      "[ 5152.797885] NIP [c00000000089f460] page_counter_cancel+0x110/0x134",
      "[ 5152.797902] Call Trace:",
      "[ 5152.797920] [c000000267417c80] [c00000000089f8cc] page_counter_uncharge+0x3c/0x6c",
      "[ 5152.797930] [c000000267417cb0] [c0000000008ab630] drain_local_memcg_stock+0x198/0x464",
      "[ 5152.797942] [c000000267417da0] [c000000000204ffc] process_one_work+0x3d4/0x968"],
     "WARNING in page_counter_cancel"),
    # format=flowed: a blank ends the wrapped part
    (["[671277.260094] INFO: task khugepaged:337 blocked for more than 122 ", "seconds.",
      "[671277.260666] Call Trace:", "[671277.260765] [<0000000000af0ae0>] schedule+0x40/0xe0",
      "[671277.261234] [<0000000000597954>] lru_add_drain_all+0x1b4/0x240",
      "[671277.261306] [<00000000006052c4>] khugepaged+0x44/0x1e40"],
     "INFO: task hung in lru_add_drain_all"),
])
def test_a_wrapped_header_is_titled_with_its_rest(lines: list[str], title: str) -> None:
    assert [r.title for r in scan(lines)] == [title]


def test_a_complete_header_takes_no_line_after_it() -> None:
    # the header titles on its own: the unprefixed line after it (user space) is not joined
    lines = ["[   10.000000] WARNING: CPU: 0 PID: 1 at mm/gup.c:12 try_grab_folio+0x1/0x2",
             "login: root", "[   10.000001] RIP: 0010:try_grab_folio+0x1/0x2", "[   10.000002] Call Trace:",
             "[   10.000003]  follow_page_pte+0x1/0x2", "[   10.000004]  __get_user_pages+0x1/0x2",
             "[   10.000005]  get_user_pages_unlocked+0x1/0x2"]
    assert [r.title for r in scan(lines)] == ["WARNING in try_grab_folio"]


def test_wrapped_lines_inside_a_report_are_read_whole() -> None:
    # lockdep's "at: " wrapped by a mail client (format=flowed): the acquiring frame is on the next line
    lines = ["<4>[    8.197437] WARNING: possible recursive locking detected",
             "<4>[    8.197447] cpuhp/0/20 is trying to acquire lock:",
             "<4>[    8.197450] ffffffff83487870 (cpu_hotplug_lock){++++}-{0:0}, at: ",
             "rapl_package_add_pmu+0x37/0x370 [intel_rapl_common]",
             "<4>[    8.197463] but task is already holding lock:",
             "<4>[    8.197466] ffffffff83487870 (cpu_hotplug_lock){++++}-{0:0}, at: ",
             "cpuhp_thread_fun+0x6d/0x290",
             "<4>[    8.197532] Call Trace:", "<4>[    8.197533]  dump_stack_lvl+0x91/0xf0",
             "<4>[    8.197561]  rapl_package_add_pmu+0x37/0x370 [intel_rapl_common]",
             "<4>[    8.197565]  rapl_cpu_online+0x85/0x87 [intel_rapl_msr]"]
    assert [r.title for r in scan(lines)] == ["possible deadlock in rapl_package_add_pmu"]


INLINE_KMSAN = ["BUG: KMSAN: kernel-infoleak in instrument_copy_to_user include/linux/instrumented.h:121 [inline]",
                "BUG: KMSAN: kernel-infoleak in _copy_to_user+0x1c9/0x270 lib/usercopy.c:33",
                " instrument_copy_to_user include/linux/instrumented.h:121 [inline]",
                " _copy_to_user+0x1c9/0x270 lib/usercopy.c:33",
                " ucma_init_qp_attr+0x8c7/0xb10 drivers/infiniband/core/ucma.c:1242",
                " ucma_write+0x637/0x6c0 drivers/infiniband/core/ucma.c:1732", "",
                "Local variable resp created at:",
                " ucma_init_qp_attr+0xa4/0xb10 drivers/infiniband/core/ucma.c:1214", "",
                "CPU: 1 PID: 25910 Comm: syz-executor.1 Not tainted 5.16.0-rc5-syzkaller #0"]


def test_a_symbolized_header_per_inlined_frame_is_one_report() -> None:
    assert [r.title for r in scan(INLINE_KMSAN)] == ["KMSAN: kernel-infoleak in ucma_init_qp_attr"]


def test_another_sanitizer_bug_after_an_inlined_header_is_its_own_report() -> None:
    # the words before the frame differ (another bug kind): not the next inlined level
    lines = [INLINE_KMSAN[0], "BUG: KMSAN: uninit-value in _copy_to_user+0x1c9/0x270 lib/usercopy.c:33",
             *INLINE_KMSAN[2:]]
    assert len(scan(lines)) == 2


def test_a_programs_stamp_with_a_blank_before_the_bracket_is_no_report() -> None:
    # a test program's "[ elapsed ] ..." lines in a stamped console: user space, not printk's
    lines = [f"[    {i}.000000] random: crng init done" for i in range(3)]
    lines += ["[ 1.5 ] WARNING: the test expects a warning here", "[ 2.25 ] BUG: expected", "ok 1 selftests: x"]
    assert scan(lines) == []


@pytest.mark.parametrize("header, title", [
    ("WARNING: possible circular locking dependency detected ", "WARNING: possible circular locking dependency detected"),
    ("BUG: KASAN: slab-out-of-bounds in gup_test_ioctl+0x1/0x2 ", "KASAN: slab-out-of-bounds in gup_test_ioctl"),
])
def test_a_complete_header_ending_in_a_blank_takes_no_line_after_it(header: str, title: str) -> None:
    # a trailing blank (format=flowed, a terminal's padding) does not make a user-space line its rest
    lines = [f"[    {i}.000000] random: crng init done" for i in range(3)]
    lines += [f"[   10.000000] {header}", "login: root", "[   10.000002] Call Trace:",
              "[   10.000003]  follow_page_pte+0x1/0x2", "[   10.000004]  __get_user_pages+0x1/0x2",
              "[   10.000005]  get_user_pages_unlocked+0x1/0x2"]
    assert [r.title for r in scan(lines)] == [title]


def test_another_writers_line_between_two_frames_does_not_end_the_stack() -> None:
    # syzkaller's report 210 (4.16, no caller ids): "ipt_CLUSTERIP: unknown mode 3" printed between
    # two frames of the panic_on_warn stack ended the report before the RIP line, so the ODEBUG
    # WARNING was "in corrupted"; syzkaller's parseStackTrace passes over such lines.
    (rep,) = reports_of("syzkaller/210-odebug-warn-program-inside-panic-4.16.log")
    assert rep.title == "WARNING: ODEBUG bug in xt_free_table_info"
    assert "xt_free_table_info" in rep.call_trace
    assert not any("ipt_CLUSTERIP" in line for line in rep.raw[rep.raw.index(next(
        line for line in rep.raw if "panic+0x" in line)):])
    # a line after a finished stack that no frame follows still ends the report
    lines = ["[    1.000000] WARNING: CPU: 0 PID: 1 at mm/foo.c:1 foo_bar+0x1/0x2",
             "[    1.000001] Call Trace:", "[    1.000002]  foo_caller+0x1/0x2", "[    1.000003]  kthread+0x1/0x2",
             "[    1.000004] eth0: link up", "[    1.000005] random message", "[    1.000006]  stray_frame+0x1/0x2"]
    (rep,) = scan(lines)
    assert rep.last_line == 3 and rep.title == "WARNING in foo_caller"
