"""Taint letters the found reports explain (bench.report.taint), on the real fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.report.scanner import Report, scan
from bench.report.taint import (
    explained_taint,
    order,
    taints_of,
)

CONSOLE = Path(__file__).parent / "data" / "console"


def reports_of(name: str) -> list[Report]:
    lines = (CONSOLE / name).read_text(encoding="utf-8").splitlines()
    return scan(line for line in lines if not line.startswith("#@ "))


@pytest.mark.parametrize("name, letters", [
    ("put-user-page-folio-mkclean-warn-6.12-tcg.log", "W"),  # __warn()
    ("vm-bug-on-page-xen-boot.log", "D"),  # BUG() -> die()
    ("lkp-kasan-then-gpf-interleaved.log", "BD"),  # KASAN adds B, the GPF D
    ("kfence-syslog-level-prefix.log", "B"),
    ("kmsan-syzbot.log", "B"),
    ("bad-page-state-ice.log", "B"),  # bad_page()
    ("soft-lockup-boot.log", "L"),
    ("rcu-suspicious-then-sleeping-kvm.log", "W"),  # __might_resched() adds W, lockdep nothing
    ("smp-processor-id-preemptible-interleaved-6.9.log", ""),  # check_preemption_disabled() taints nothing
    ("hung-task-jbd2-5.15-flatcar.log", ""),
    ("kmemleak-tap-selftest.log", ""),
    ("ubsan-shift-syzbot.log", ""),  # 6.12 lib/ubsan.c adds no taint
    ("slub-poison-overwritten-old-info-lines.log", "B"),  # slab_bug()
])
def test_explained_taint_of_fixtures(name: str, letters: str) -> None:
    assert order(explained_taint(reports_of(name))) == letters


def test_explained_taint_is_pure_and_takes_any_iterable() -> None:
    reports = reports_of("lkp-kasan-then-gpf-interleaved.log")
    assert explained_taint(iter(reports)) == explained_taint(reports) == frozenset("BD")
    assert explained_taint([]) == frozenset()


@pytest.mark.parametrize("title, letters", [
    ("WARNING: refcount bug in sctp_association_hold", "W"),
    ("WARNING: ODEBUG bug in corrupted", "W"),
    ("possible deadlock in f2fs_file_write_iter", ""),
    ("kernel BUG in xen_pin_page", "D"),
    ("BUG: unable to handle kernel NULL pointer dereference in cbs_destroy", "D"),
    ("general protection fault in idxd_device_config_restore", "D"),
    ("KASAN: slab-use-after-free Write in idxd_dma_complete_txd", "B"),
    ("BUG: soft lockup in kernel_init", "L"),
    ("INFO: task hung in ceph_writepages_start", ""),
])
def test_taints_of_titles(title: str, letters: str) -> None:
    assert order(taints_of(title)) == letters
