"""The only place the bench starts a subprocess.

Every command is an argv list (never a shell string), runs in its own process
group so a timeout or an exception can kill everything it started (make's
children, QEMU under vng), and has its merged stdout/stderr copied line by line
to a log file as it runs, so a failed or killed run still leaves its log.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.base.errors import InfraError

TAIL_LINES = 200


@dataclass(frozen=True)
class ProcResult:
    argv: tuple[str, ...]
    rc: int
    timed_out: bool
    secs: float
    log: Path | None
    tail: tuple[str, ...]  # the last TAIL_LINES lines of output, for error excerpts

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out


def format_argv(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def kill_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            # The leader is gone; children (qemu) may linger in the group.
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def group_pids(pgid: int) -> list[int]:
    """The live processes (zombies aside) of process group pgid, from /proc."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]  # after "pid (comm)"
        if int(pgrp) == pgid and state not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def works_in(pid: int, path: Path) -> bool:
    """Process pid names path or a file under it on its command line (make -C SLOT/src
    O=SLOT/build, git -C SLOT/src) or runs in it (a compiler in the build dir)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:  # gone, or not ours to read
        return False
    inside = str(path) + "/"
    return any(a == str(path) or inside in a for a in args) or cwd == str(path) or cwd.startswith(inside)


def end_group(pgid: int, timeout: float = 30.0) -> None:
    """SIGKILL process group pgid (never our own) and wait until nothing of it runs."""
    if pgid <= 1 or pgid == os.getpgrp():
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while group_pids(pgid):
        if time.monotonic() > deadline:
            raise InfraError(f"process group {pgid} is still running {timeout:.0f}s after SIGKILL")
        time.sleep(0.05)


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
    started: Callable[[int], None] | None = None,
) -> ProcResult:
    """Run argv to completion; never raises for a non-zero exit (see `check`).

    env entries are added to (and override) the current environment; started() gets the
    process id (also its process group's) as soon as it runs.
    """
    argv = tuple(str(a) for a in argv)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    logf = open(log, "a", encoding="utf-8", errors="replace") if log else None
    start = time.monotonic()
    timed_out = threading.Event()
    try:
        if logf:
            logf.write(f"$ {format_argv(argv)}\n")
            logf.flush()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as e:
            raise InfraError(f"cannot run {argv[0]}: {e.strerror}") from e
        if started:
            started(proc.pid)

        def expire() -> None:
            timed_out.set()
            kill_group(proc)

        timer = threading.Timer(timeout, expire) if timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                tail.append(line)
                if logf:
                    logf.write(line + "\n")
                    logf.flush()  # a killed or crashed run must still leave its log
                if on_line:
                    on_line(line)
            rc = proc.wait()
        finally:
            if timer:
                timer.cancel()
            if proc.poll() is None:  # exception or KeyboardInterrupt mid-stream
                kill_group(proc)
        if logf and timed_out.is_set():
            logf.write(f"pinbench: killed after {timeout:.0f}s timeout\n")
    finally:
        if logf:
            logf.close()
    return ProcResult(
        argv=argv,
        rc=rc,
        timed_out=timed_out.is_set(),
        secs=time.monotonic() - start,
        log=log,
        tail=tuple(tail),
    )


def check(result: ProcResult, what: str) -> ProcResult:
    """Raise InfraError naming the command when it failed; otherwise return it."""
    if not result.ok:
        last = result.tail[-1] if result.tail else ""
        why = "timed out" if result.timed_out else f"exit {result.rc}"
        where = f" (log: {result.log})" if result.log else ""
        raise InfraError(f"{what} failed ({why}): {format_argv(result.argv)}: {last}{where}")
    return result


def output(argv: Sequence[str], *, cwd: Path | None = None) -> str:
    """Run a short query command and return its stdout; InfraError if it fails. Bytes that are
    not UTF-8 (a Latin-1 line git blame prints, a file name) come back surrogate-escaped: a file
    name still names its file, and a patch's odd bytes never crash the run."""
    try:
        cp = subprocess.run(
            list(argv), cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="surrogateescape",
            stdin=subprocess.DEVNULL,
        )
    except OSError as e:
        raise InfraError(f"cannot run {argv[0]}: {e.strerror}") from e
    if cp.returncode != 0:
        msg = (cp.stderr.strip().splitlines() or [""])[-1]
        raise InfraError(f"{format_argv(argv)} failed (exit {cp.returncode}): {msg}")
    return cp.stdout


def run_all(commands: Sequence[tuple[Sequence[str], Path]], *, env: Mapping[str, str] | None = None
            ) -> list[ProcResult]:
    """Run (argv, log) commands at the same time, each like run(); wait for all of them.

    An exception here (Ctrl-C, SIGTERM) sends SIGTERM to every one's process group first, so
    they stop as they would on their own (and keep their partial results), then re-raises.
    """
    pids: list[int] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(commands))) as pool:
        futures = [pool.submit(run, argv, env=env, log=log, started=pids.append) for argv, log in commands]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGTERM)
            raise
