"""Boot a kernel under virtme-ng (vng) and keep its whole console.

vng runs in script mode with `-v`, so the kernel console goes to its stderr;
it boots with panic=-1 and -no-reboot, so a dead kernel ends QEMU and vng
returns 255. We run it under pexpect (a pty: vng and QEMU line-buffer their
output there), copy every byte to console.log as it arrives, and enforce the
timeout from outside: on timeout or any exception the whole process group
(vng and its QEMU) is killed, so nothing is left running. With a QEMU wrapper
(bench/run/qemu.py) the boot also learns how QEMU ended, which vng's 255 hides.

KVM is only used after a probe boot has proven it works: on nested setups
/dev/kvm can exist while guests hang or fail early in boot.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO
from dataclasses import dataclass, replace
from pathlib import Path

import pexpect

from bench.base import formats, rundir
from bench.base.console_lines import LineSplitter
from bench.base.errors import InfraError
from bench.base.files import write_atomic
from bench.base.limits import LIMITS
from bench.run.qemu import QemuStatus, STATUS_ENV, read_status

VNG = "vng"
PROBE_TIMEOUT = 60.0
EXIT_KERNEL_DIED = 255  # vng's code when the guest ended without reporting (panic)
READ_SIZE = 64 * 1024  # bytes a read of the console takes at most
EXIT_GRACE = 10.0  # seconds vng gets after the console closed, before it is killed


@dataclass(frozen=True)
class Accel:
    kvm: bool
    reason: str  # why this choice, said to the user


@dataclass(frozen=True)
class VmOptions:
    memory: str = "2G"
    cpus: int = 2
    network: str | None = None  # "user" gives the guest eth0 (needed by rxe)
    rwdirs: tuple[tuple[str, Path], ...] = ()  # (guest path, host path)
    append: tuple[str, ...] = ()


@dataclass(frozen=True)
class BootResult:
    argv: tuple[str, ...]
    rc: int | None  # None when we killed it
    timed_out: bool
    secs: float
    console: Path
    accel: Accel
    qemu: QemuStatus = QemuStatus()
    flooded: bool = False  # stopped by the bench: the console passed LIMITS.console_chars


class CappedLog:
    """console.log as pexpect's logfile: at most `limit` characters kept, then `full`."""

    def __init__(self, out: TextIO, limit: int) -> None:
        self.out, self.left, self.full = out, limit, False

    def write(self, text: str) -> None:
        if self.left <= 0:
            self.full = True
            return
        self.out.write(text[:self.left])
        self.left -= len(text)
        self.full = self.left < 0

    def flush(self) -> None:
        self.out.flush()


def find_vng() -> str:
    """vng on PATH, else the one pip put beside this interpreter (pyenv shims may lag)."""
    found = shutil.which(VNG)
    if found:
        return found
    beside = Path(sys.executable).parent / VNG
    if beside.is_file():
        return str(beside)
    raise InfraError("vng not found on PATH or beside python: pip install virtme-ng")


def vng_argv(image: Path, command: Sequence[str], accel: Accel, opts: VmOptions,
             qemu: Path | None = None) -> list[str]:
    argv = [VNG, "--run", str(image), "--verbose", "--force-9p"]
    if qemu is not None:
        argv += ["--qemu", str(qemu)]
    if not accel.kvm:
        argv.append("--disable-kvm")
    argv += ["--memory", opts.memory, "--cpus", str(opts.cpus)]
    if opts.network:
        argv += ["--network", opts.network]
    for guest, host in opts.rwdirs:
        argv.append(f"--rwdir={host}" if guest == str(host) else f"--rwdir={guest}={host}")
    for arg in opts.append:
        argv += ["--append", arg]
    return [*argv, "--", *command]


def _kill(child: pexpect.spawn) -> None:
    """Kill vng and everything it started (QEMU): they share the pty's session."""
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while child.isalive() and time.monotonic() < deadline:  # isalive() also reaps vng
        time.sleep(0.1)
    try:  # whatever ignored SIGTERM (QEMU mid-exit) goes now
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_exit(child: pexpect.spawn, grace: float) -> None:
    deadline = time.monotonic() + grace
    while child.isalive() and time.monotonic() < deadline:  # isalive() also reaps it
        time.sleep(0.05)


def boot(
    image: Path,
    command: Sequence[str],
    console: Path,
    *,
    accel: Accel,
    opts: VmOptions,
    timeout: float,
    on_line: Callable[[str], None] | None = None,
    qemu_wrapper: Path | None = None,
    console_limit: int = LIMITS.console_chars,
) -> BootResult:
    """Boot `image`, run `command` in the guest, return when the VM is gone. With qemu_wrapper
    (bench/run/qemu.py) QEMU's end is read from <console stem>.qemu-status beside the console.
    A console longer than console_limit stops the VM (flooded): a printk storm must not fill
    the disk or, read back, the host's memory."""
    argv = vng_argv(image, command, accel, opts, qemu_wrapper)
    status = console.with_suffix(".qemu-status")
    env = None
    if qemu_wrapper is not None:
        status.unlink(missing_ok=True)
        env = {**os.environ, STATUS_ENV: str(status)}
    start = time.monotonic()
    timed_out = eof = sent = False
    with open(console, "w", encoding="utf-8", errors="replace") as out:
        out.write(f"# pinbench: {' '.join(argv)}\n")
        out.flush()
        log = CappedLog(out, console_limit)
        child = pexpect.spawn(
            find_vng(), argv[1:], encoding="utf-8", codec_errors="replace", timeout=5,
            echo=False, dimensions=(50, 250), env=env,
        )
        child.logfile_read = log
        lines = LineSplitter()
        try:
            while True:
                left = timeout - (time.monotonic() - start)
                if left <= 0 or log.full:
                    timed_out = True
                    break
                try:  # not expect("\n"): it searches the whole pending buffer on every read
                    chunk = child.read_nonblocking(READ_SIZE, timeout=min(left, 5))
                except pexpect.TIMEOUT:
                    continue
                except pexpect.EOF:
                    eof = True
                    break
                for line in lines.feed(chunk):
                    if on_line:
                        on_line(line)
            if eof and on_line:  # a last line without its newline
                for line in lines.close():
                    on_line(line)
        finally:
            if eof:  # the console closed: vng still reads the guest's exit code; let it finish
                _wait_exit(child, EXIT_GRACE)
            if timed_out or child.isalive():
                sent = True  # the signals QEMU gets now are the bench's
                _kill(child)
            child.close(force=True)
            log.flush()
        if log.full:
            out.write(f"\n# pinbench: console cut at {console_limit} characters (a printk storm):"
                      " the VM was stopped\n")
        elif timed_out:
            out.write(f"\n# pinbench: killed after {timeout:.0f}s timeout\n")
    rc = None if timed_out else child.exitstatus
    if rc is None and not timed_out and child.signalstatus is not None:
        rc = 128 + child.signalstatus
    qemu = read_status(status) if qemu_wrapper is not None else QemuStatus()
    if sent:
        qemu = replace(qemu, sent=True)
    return BootResult(tuple(argv), rc, timed_out, time.monotonic() - start, console, accel, qemu, log.full)


def _last_line(path: Path) -> str:
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    tail = [ln for ln in lines if not ln.startswith("# pinbench")]
    return tail[-1][:160] if tail else ""


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def choose_accel(
    want: str, image: Path, cache_dir: Path, log_dir: Path,
    say: Callable[[str], None] = lambda s: None,
) -> Accel:
    """want is 'kvm', 'tcg' or 'auto'. auto boots a probe guest under KVM first.

    The probe's verdict is cached per host boot, since nested KVM does not
    start working (or stop) without the host rebooting.
    """
    if want == "tcg":
        return Accel(False, "software emulation (TCG) requested")
    if want == "kvm":
        return Accel(True, "KVM requested")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Accel(False, "no usable /dev/kvm: using software emulation (TCG)")
    cache = cache_dir / "kvm-probe.json"
    try:  # a cache file that is not what we write (strict read, an object) means probe again
        cached = formats.load_json(cache) if cache.exists() else None
        if isinstance(cached, dict) and cached.get("boot_id") == _boot_id() and isinstance(cached.get("kvm"), bool):
            return Accel(cached["kvm"], str(cached.get("reason", "")) + " (cached probe)")
    except formats.FormatProblem:
        pass
    say(f"probing KVM: booting {image.name} with -e true (up to {PROBE_TIMEOUT:.0f}s)")
    probe = boot(
        image, ["true"], log_dir / rundir.KVM_PROBE_LOG,
        accel=Accel(True, "probe"), opts=VmOptions(memory="512M", cpus=1),
        timeout=PROBE_TIMEOUT,
    )
    if probe.rc == 0:
        accel = Accel(True, f"KVM works (probe boot took {probe.secs:.1f}s)")
    else:
        why = "timed out" if probe.timed_out else f"exit {probe.rc}"
        last = _last_line(probe.console)
        if kernel_started(probe.console):
            # QEMU under KVM ran the kernel: what failed is this kernel (an early panic), not
            # KVM. Not cached, so the next kernel is probed again; TCG for this one to be safe.
            return Accel(False, f"KVM probe boot: the kernel started but did not finish ({why}"
                                f"{': ' + last if last else ''}); not a KVM verdict: software emulation "
                                "(TCG) for this kernel")
        accel = Accel(False, f"KVM probe boot failed before the kernel started ({why}{': ' + last if last else ''}): "
                             "falling back to software emulation (TCG)")
    with contextlib.suppress(OSError, InfraError):  # a cache we cannot write costs a probe next time
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, json.dumps({"boot_id": _boot_id(), "kvm": accel.kvm, "reason": accel.reason}))
    return accel


def kernel_started(console: Path) -> bool:
    """The guest kernel printed its banner: QEMU and KVM did their part."""
    try:
        return "Linux version " in console.read_text(errors="replace")
    except OSError:
        return False
