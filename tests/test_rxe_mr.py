"""guests/rxe_mr.py's accounting oracle, run on the host with pyverbs faked: a registration's
mm->pinned_vm charge (VmPin) must be the MR's pages while it is held and be given back after
the deregistration and after a refused registration. The fake MR stands for ib_umem_get() and
ib_umem_release() (drivers/infiniband/core/umem.c), with or without the give-back."""

from __future__ import annotations

import errno
import importlib
import mmap
import sys
import types
from collections.abc import Iterator

import pytest
from conftest import HOME


class FakeRDMAError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.error_code = code


@pytest.fixture
def rxe_mr(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    enums = types.SimpleNamespace(IBV_ACCESS_LOCAL_WRITE=1, IBV_ACCESS_REMOTE_WRITE=2, IBV_ACCESS_REMOTE_READ=4)
    fakes = {"pyverbs": types.ModuleType("pyverbs"), "pyverbs.enums": enums,
             "pyverbs.device": types.SimpleNamespace(Context=None), "pyverbs.mr": types.SimpleNamespace(MR=None),
             "pyverbs.pd": types.SimpleNamespace(PD=None),
             "pyverbs.pyverbs_error": types.SimpleNamespace(PyverbsRDMAError=FakeRDMAError)}
    for name, mod in fakes.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.syspath_prepend(str(HOME / "guests"))
    sys.modules.pop("rxe_mr", None)
    mod = importlib.import_module("rxe_mr")
    yield mod
    sys.modules.pop("rxe_mr", None)


def kernel(mod: types.ModuleType, monkeypatch: pytest.MonkeyPatch, *, give_back: bool = True,
           refuse: int = 0, charge_extra: int = 0) -> None:
    """ib_umem_get()/ib_umem_release() as a fake MR: pins and VmPin"""
    state = {"vmpin": 0, "acq": 0, "rel": 0}

    class MR:
        def __init__(self, _pd: object, length: int, _access: int, address: int) -> None:
            pages = length // mmap.PAGESIZE
            if refuse:
                if not give_back:
                    state["vmpin"] += pages  # the failure path kept its charge
                raise FakeRDMAError(refuse)
            self.pages = pages
            state["vmpin"] += pages + charge_extra
            state["acq"] += pages

        def close(self) -> None:
            state["rel"] += self.pages
            if give_back:
                state["vmpin"] -= self.pages + charge_extra

    monkeypatch.setattr(mod, "MR", MR)
    monkeypatch.setattr(mod, "vmpin", lambda: state["vmpin"])
    monkeypatch.setattr(mod, "pins", lambda: (state["acq"], state["rel"]))


def test_a_registration_that_charges_its_pages_and_gives_them_back_passes(rxe_mr: types.ModuleType,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    kernel(rxe_mr, monkeypatch)
    got, held, after, problem = rxe_mr.register(None, rxe_mr.anon(64 * 1024, ""), rxe_mr.RW)
    assert (got, held, after, problem) == (0, (16, 0), (16, 16), None)


def test_a_charge_kept_after_the_deregistration_fails(rxe_mr: types.ModuleType,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    kernel(rxe_mr, monkeypatch, give_back=False)
    *_, problem = rxe_mr.register(None, rxe_mr.anon(64 * 1024, ""), rxe_mr.RW)
    assert problem == "VmPin +16 pages after the deregistration (mm->pinned_vm charge not given back)"


def test_a_charge_kept_by_a_refused_registration_fails(rxe_mr: types.ModuleType,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    kernel(rxe_mr, monkeypatch, give_back=False, refuse=errno.EFAULT)
    got, held, after, problem = rxe_mr.register(None, rxe_mr.anon(64 * 1024, ""), rxe_mr.RW)
    assert got == errno.EFAULT and held == (0, 0) and after == (0, 0)
    assert problem == "VmPin +16 pages after the failure (mm->pinned_vm charge not given back)"


def test_a_charge_that_is_not_the_mrs_pages_fails(rxe_mr: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel(rxe_mr, monkeypatch, charge_extra=1)
    *_, problem = rxe_mr.register(None, rxe_mr.anon(64 * 1024, ""), rxe_mr.RW)
    assert problem == "VmPin grew by 17 pages while the MR of 16 pages was held"


def test_vmpin_reads_this_process_status(rxe_mr: types.ModuleType) -> None:
    assert rxe_mr.vmpin() == 0  # pytest pins nothing


GUEST_LOGS = HOME / "tests" / "data" / "guest"


def test_real_rxe_logs_of_the_accounting_checks() -> None:
    # the default set's run on a healthy 6.12 (every registration's VmPin back, the child over
    # RLIMIT_MEMLOCK refused), and tests/data/guest/rlimit-bugs/charge-kept-xdp-umem, whose
    # ib_umem_get() error path no longer gives mm->pinned_vm back: every refused MR fails
    bare = (GUEST_LOGS / "rxe-accounting-baseline-6.12-tcg.log").read_text()
    assert "anon over RLIMIT_MEMLOCK     ok" in bare and "FAIL" not in bare
    kept = (GUEST_LOGS / "rxe-charge-kept-umem-6.12-tcg.log").read_text()
    fails = [line for line in kept.splitlines() if "FAIL:" in line]
    assert [f.split("FAIL: ")[1].split(":")[0] for f in fails] == [
        "ext4 MAP_SHARED rw", "anon, PROT_NONE past chunk 1", "anon, PROT_NONE in chunk 2"]
    assert all("(mm->pinned_vm charge not given back)" in f for f in fails)
    assert "anon over RLIMIT_MEMLOCK     ok" in kept  # refused before any pin: its charge is given back there
