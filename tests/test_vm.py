from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import gone

from bench.run import qemu, vm

BIN = Path(__file__).parent / "bin"
BOOTS = Path(__file__).parent / "data" / "boots"
TCG = vm.Accel(False, "test")


@pytest.fixture(autouse=True)
def fake_vng(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("PATH", f"{BIN}:{__import__('os').environ['PATH']}")
    argv_log = tmp_path / "vng-argv"
    monkeypatch.setenv("FAKE_VNG_ARGV", str(argv_log))
    for var in ("FAKE_VNG_CONSOLE", "FAKE_VNG_GUEST", "FAKE_VNG_SLEEP", "FAKE_VNG_RC"):
        monkeypatch.delenv(var, raising=False)
    return argv_log


def test_argv() -> None:
    opts = vm.VmOptions(memory="1G", cpus=1, network="loop", rwdirs=(("/r", Path("/r")), ("/g", Path("/h"))),
                        append=("panic_on_warn=1",))
    argv = vm.vng_argv(Path("/b/bzImage"), ["bash", "x.sh"], TCG, opts)
    assert argv == ["vng", "--run", "/b/bzImage", "--verbose", "--force-9p", "--disable-kvm",
                    "--memory", "1G", "--cpus", "1", "--network", "loop", "--rwdir=/r", "--rwdir=/g=/h",
                    "--append", "panic_on_warn=1", "--", "bash", "x.sh"]
    assert "--disable-kvm" not in vm.vng_argv(Path("/b"), ["true"], vm.Accel(True, ""), vm.VmOptions())


def test_console_is_copied_and_lines_streamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = BOOTS / "baseline-tcg" / "console.log"
    monkeypatch.setenv("FAKE_VNG_CONSOLE", str(recorded))
    seen: list[str] = []
    res = vm.boot(Path("/b/bzImage"), ["true"], tmp_path / "console.log", accel=TCG, opts=vm.VmOptions(),
                  timeout=30, on_line=seen.append)
    assert res.rc == 0 and not res.timed_out
    text = (tmp_path / "console.log").read_text()
    assert text.startswith("# pinbench: vng --run /b/bzImage")
    assert "Linux version 6.12" in text and "pinbench: all workloads done" in text
    assert any("pinbench: guest ready" in line for line in seen)


def test_timeout_kills_vng_and_children(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_VNG_SLEEP", "61.25")  # a value nobody else sleeps
    start = time.monotonic()
    res = vm.boot(Path("/b"), ["true"], tmp_path / "c.log", accel=TCG, opts=vm.VmOptions(), timeout=2)
    assert res.timed_out and res.rc is None and time.monotonic() - start < 20
    assert "killed after 2s timeout" in (tmp_path / "c.log").read_text()
    assert gone("sleep 61.25")  # no sleep left behind from the fake's process group


def test_kvm_probe_falls_back_and_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           fake_vng: Path) -> None:
    monkeypatch.setattr(vm.os, "access", lambda *a: True)
    monkeypatch.setenv("FAKE_VNG_RC", "1")
    said: list[str] = []
    accel = vm.choose_accel("auto", Path("/b/bzImage"), tmp_path / "cache", tmp_path, said.append)
    assert not accel.kvm and "falling back to software emulation (TCG)" in accel.reason
    assert "--disable-kvm" not in fake_vng.read_text()  # the probe really asked for KVM
    assert said and "probing KVM" in said[0]
    again = vm.choose_accel("auto", Path("/b/bzImage"), tmp_path / "cache", tmp_path)
    assert not again.kvm and "cached probe" in again.reason
    assert len(fake_vng.read_text().splitlines()) == 1  # no second probe boot


@pytest.mark.parametrize("text", ["[1, 2]", '"kvm"', "[" * 100000, '{"boot_id": 5, "kvm": 1}'],
                         ids=["list", "string", "deep", "types"])
def test_a_probe_cache_that_is_not_ours_means_probe_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          text: str) -> None:
    """cached.get() on a list (AttributeError) or a deep file (RecursionError) crashed the run."""
    monkeypatch.setattr(vm.os, "access", lambda *a: True)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "kvm-probe.json").write_text(text)
    accel = vm.choose_accel("auto", Path("/b"), tmp_path / "cache", tmp_path)
    assert accel.kvm and "KVM works" in accel.reason


def test_kvm_probe_success(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vm.os, "access", lambda *a: True)
    accel = vm.choose_accel("auto", Path("/b"), tmp_path / "cache", tmp_path)
    assert accel.kvm and "KVM works" in accel.reason


def test_explicit_and_missing_kvm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not vm.choose_accel("tcg", Path("/b"), tmp_path, tmp_path).kvm
    assert vm.choose_accel("kvm", Path("/b"), tmp_path, tmp_path).kvm
    monkeypatch.setattr(vm.os, "access", lambda *a: False)
    accel = vm.choose_accel("auto", Path("/b"), tmp_path, tmp_path)
    assert not accel.kvm and "no usable /dev/kvm" in accel.reason


def test_a_kernel_that_dies_in_the_probe_is_not_a_kvm_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               fake_vng: Path) -> None:
    monkeypatch.setattr(vm.os, "access", lambda *a: True)
    monkeypatch.setenv("FAKE_VNG_CONSOLE", str(BOOTS / "baseline-tcg" / "console.log"))  # "Linux version ..."
    monkeypatch.setenv("FAKE_VNG_RC", "255")  # then it died: the series' kernel panicked early
    accel = vm.choose_accel("auto", Path("/b/bzImage"), tmp_path / "cache", tmp_path)
    assert not accel.kvm and "the kernel started" in accel.reason and "not a KVM verdict" in accel.reason
    assert "KVM probe boot failed" not in accel.reason
    assert not (tmp_path / "cache" / "kvm-probe.json").exists()  # the next kernel is probed again
    monkeypatch.setenv("FAKE_VNG_RC", "0")
    assert vm.choose_accel("auto", Path("/b/bzImage"), tmp_path / "cache", tmp_path).kvm
    assert len(fake_vng.read_text().splitlines()) == 2


def test_qemu_failing_before_the_kernel_is_cached_as_kvm_trouble(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vm.os, "access", lambda *a: True)
    console = tmp_path / "qemu.txt"
    console.write_text("qemu-system-x86_64: error: failed to initialize kvm: Permission denied\n")
    monkeypatch.setenv("FAKE_VNG_CONSOLE", str(console))
    monkeypatch.setenv("FAKE_VNG_RC", "1")
    accel = vm.choose_accel("auto", Path("/b/bzImage"), tmp_path / "cache", tmp_path)
    assert not accel.kvm and "before the kernel started" in accel.reason and "failed to initialize kvm" in accel.reason
    cached = json.loads((tmp_path / "cache" / "kvm-probe.json").read_text())
    assert cached["kvm"] is False and cached["boot_id"] == vm._boot_id()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["kvm-probe.json"]  # written atomically, no temp left


@pytest.mark.parametrize("end, status", [("signal KILL", qemu.QemuStatus(signal=9)),
                                         ("exit 0", qemu.QemuStatus(code=0))])
def test_the_main_boot_records_how_qemu_ended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_vng: Path,
                                              end: str, status: qemu.QemuStatus) -> None:
    """vng gets the bench's QEMU wrapper (around tests/bin's fake QEMU): vng says 255 either way,
    the wrapper's status file tells a killed QEMU from one that the kernel ended."""
    wrapper = qemu.write_wrapper(tmp_path / "cache")
    assert wrapper is not None and str(BIN / "qemu-system-x86_64") in wrapper.read_text()
    monkeypatch.setenv("FAKE_QEMU_END", end)
    monkeypatch.setenv("FAKE_VNG_RC", "255")
    res = vm.boot(Path("/b/bzImage"), ["true"], tmp_path / "console.log", accel=TCG, opts=vm.VmOptions(),
                  timeout=30, qemu_wrapper=wrapper)
    assert res.rc == 255 and res.qemu == status
    assert f"--run /b/bzImage --verbose --force-9p --qemu {wrapper} " in fake_vng.read_text()
    assert (tmp_path / "console.qemu-status").read_text().startswith("start\n")
    # No wrapper (the KVM probe, or no QEMU found): unknown.
    assert vm.boot(Path("/b"), ["true"], tmp_path / "c.log", accel=TCG, opts=vm.VmOptions(),
                   timeout=30).qemu == qemu.QemuStatus()


def test_a_vm_the_bench_killed_is_marked_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_VNG_SLEEP", "61.5")
    res = vm.boot(Path("/b"), ["true"], tmp_path / "c.log", accel=TCG, opts=vm.VmOptions(), timeout=2,
                  qemu_wrapper=qemu.write_wrapper(tmp_path / "cache"))
    assert res.timed_out and res.qemu.sent and res.qemu.signal is None


def test_an_endless_console_stops_the_vm_at_its_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A printk storm must neither fill the disk nor, read back, the host's memory: past
    console_limit characters the bench stops the VM and says where it cut."""
    monkeypatch.setenv("FAKE_VNG_CONSOLE", "/dev/zero")  # a console that never ends
    start = time.monotonic()
    res = vm.boot(Path("/b"), ["true"], tmp_path / "c.log", accel=TCG, opts=vm.VmOptions(), timeout=120,
                  console_limit=1_000_000)
    assert res.flooded and res.timed_out and res.rc is None and time.monotonic() - start < 60
    text = (tmp_path / "c.log").read_text()
    assert len(text) < 1_000_000 + 1000 and text.endswith("a printk storm): the VM was stopped\n")


def test_a_console_under_its_limit_is_kept_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = BOOTS / "baseline-tcg" / "console.log"
    monkeypatch.setenv("FAKE_VNG_CONSOLE", str(recorded))
    res = vm.boot(Path("/b"), ["true"], tmp_path / "c.log", accel=TCG, opts=vm.VmOptions(), timeout=30,
                  console_limit=len(recorded.read_text()) + 10_000)
    assert not res.flooded and res.rc == 0
    assert "pinbench: all workloads done" in (tmp_path / "c.log").read_text()
