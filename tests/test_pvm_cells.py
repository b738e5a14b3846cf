"""pin-matrix's process_vm and userfaultfd cells (guests/src/pvm_cells.h) as the host reads them:
real guest output, recorded from `bench run baseline --workload pin-matrix --param
pin-matrix.ONLY=unaligned,iovecs,batch,iov-,remote-,uffd- --param pin-matrix.QUICK=0` (run
20261205-141746-baseline, 6.12 under TCG, every one of those cells)."""
from pathlib import Path

from bench.run import subcases
from bench.run.result import Status

GUEST_LOGS = Path(__file__).parent / "data" / "guest"


def _cells(name: str) -> dict[str, subcases.Subcase]:
    return {s.name: s for s in subcases.parse((GUEST_LOGS / name).read_text().splitlines())}


def test_every_pvm_and_uffd_cell_is_one_case() -> None:
    got = _cells("pin-matrix-pvm-all-baseline-6.12-tcg.log")
    shapes = ["unaligned", "iovecs", "batch", "iov-hole", "iov-prot-none", "remote-exit", "remote-kill"]
    kinds = ["anon", "thp", "shmem", "ext4-shared", "hugetlb"]
    pvm = {f"pvm-{d}/{k}/{s}" for d in ("readv", "writev") for k in kinds for s in shapes}
    pins = ["gup-fast", "uring", "dio-ext4-read", "pvm-readv", "pvm-readv-local", "vmsplice"]
    uffd = {f"{p}/anon/uffd-{e}" for p in pins for e in ("kill", "signal")}
    assert set(got) == pvm | uffd  # 70 + 12, each once
    assert all(s.status is Status.PASS for s in got.values())
    # the per-cell comment lines (times, page dumps, counts) are not cases
    assert not any(n.startswith("#") for n in got)
