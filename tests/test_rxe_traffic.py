"""rxe's traffic cells (guests/rxe_traffic.py): the host's reading of a real guest log, and the
guest script's own helpers (payload diff, pagemap, mappings) run on the host where pyverbs is
installed (Debian's /usr/bin/python3 with python3-pyverbs, as in the guest, which shares the
host's root)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ended

from bench.run import cases, guests, subcases
from bench.run.result import Status

HERE = Path(__file__).parent
GUESTS = HERE.parent / "guests"
LOG = HERE / "data" / "guest" / "rxe-traffic-baseline-6.12-tcg.log"
BOOT = HERE / "data" / "boots" / "canary-tcg"
KINDS = ("anon", "anon-2chunks", "thp", "memfd", "hugetlb", "ext4-shared-ro", "ext4-shared-rw", "ext4-private")
STEPS = ("write", "read", "atomic", "send", "dereg")
EVENTS = ("anon/fork", "thp/fork", "anon/mprotect", "anon/dontneed", "memfd/dontneed", "anon/migrate",
          "anon/compact", "anon/munmap")


def test_a_real_rxe_log_has_every_memory_and_event() -> None:
    got = {s.name: s for s in subcases.parse(LOG.read_text().splitlines())}
    want = [f"mr/{k}/{s}" for k in KINDS for s in STEPS] + [f"mr/{e}" for e in EVENTS]
    assert list(got) == want
    skipped = sorted(n for n, s in got.items() if s.status is Status.SKIP)
    # read-only: no RDMA WRITE, no atomics, no RECV; ext4 MAP_SHARED rw: registration refused (EFAULT, 6.12)
    assert skipped == sorted(["mr/ext4-shared-ro/write", "mr/ext4-shared-ro/atomic", "mr/ext4-shared-ro/send"]
                             + [f"mr/ext4-shared-rw/{s}" for s in STEPS])
    assert all(s.status is Status.PASS for n, s in got.items() if n not in skipped)
    assert got["mr/thp/read"].message == "1024 of 1024 pages in THPs while held"
    assert got["mr/anon/dontneed"].message.startswith("private: the MR keeps the old pages")


def test_the_cells_follow_the_rxe_case(tmp_path: Path) -> None:
    (tmp_path / "rxe.log").write_text(LOG.read_text())
    (tmp_path / "rxe.rc").write_text("0 1796480236.627330605 1796480359.945336756\n")  # that run's
    found = cases.workload_cases(guests.select(["rxe"], GUESTS), tmp_path,
                                 ended((BOOT / "console.log").read_text().splitlines(), "rxe", 0),
                                 cases.BootFacts(0, False, 1.0, BOOT / "console.log"))
    assert found[0].name == "rxe" and found[0].status is Status.PASS
    assert [c.name for c in found[1:5]] == ["rxe/mr/anon/write", "rxe/mr/anon/read", "rxe/mr/anon/atomic",
                                            "rxe/mr/anon/send"]
    assert len(found) == 1 + 8 * 5 + 8


def test_a_failed_cell_fails_its_case() -> None:
    """The guest's FAIL form (case() in rxe_traffic.py), as an op's timeout would print it."""
    line = "CASE mr/anon/write FAIL: RDMA WRITE of 262144 bytes: no completion within 30 s"
    (sub,) = subcases.parse(LOG.read_text().splitlines() + [line])[:1]
    assert sub.name == "mr/anon/write" and sub.status is Status.FAIL and "no completion" in sub.message


PYVERBS_PY = "/usr/bin/python3"


def guest_python(code: str) -> str:
    if not shutil.which(PYVERBS_PY) or subprocess.run(
            [PYVERBS_PY, "-c", "import pyverbs.qp"], capture_output=True).returncode:
        pytest.skip("no /usr/bin/python3 with pyverbs (python3-pyverbs, scripts/setup-debian.sh)")
    r = subprocess.run([PYVERBS_PY, "-c", f"import sys; sys.path.insert(0, {str(GUESTS)!r})\n"
                        "import rxe_traffic as t\n" + code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_differs_names_the_pages_and_what_they_hold() -> None:
    out = guest_python("P = t.PAGE\n"
                       "print(t.differs(b'a' * 3 * P, b'a' * 3 * P, 'x'))\n"
                       "print(t.differs(b'a' * P + bytes(P) + b'c' * P, b'a' * 3 * P, 'RDMA READ'))\n"
                       "print(t.differs(b'a' * P + b'b' * 2 * P, b'a' * 3 * P, 'view'))\n")
    assert out.splitlines() == [
        "None",
        "RDMA READ: 2 of 3 page(s) differ, the first (page 1) holds zeroes",
        "view: 2 of 3 page(s) differ, the first (page 1) holds other data",
    ]


def test_dontneed_drops_what_pagemap_shows_present() -> None:
    """The DONTNEED cell's premise read: pages present after a write, none after MADV_DONTNEED."""
    out = guest_python("import mmap\n"
                       "b = t.anon(16 * t.PAGE)\n"
                       "b.write(b'x' * b.size)\n"
                       "print(sum(1 for v in b.pagemap() if v & t.PM_PRESENT))\n"
                       "b.madvise(mmap.MADV_DONTNEED)\n"
                       "print(sum(1 for v in b.pagemap() if v & t.PM_PRESENT), any(b.read()))\n"
                       "b.unmap(); b.unmap()\n")
    assert out.split() == ["16", "0", "False"]


def test_a_thp_buffer_is_huge_page_aligned() -> None:
    out = guest_python("b = t.thp(0)\nprint(b.addr % t.HPAGE, b.size == 2 * t.HPAGE)\n")
    assert out.split() == ["0", "True"]
