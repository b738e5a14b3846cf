"""How the VM's QEMU ended: a wrapper vng runs as its QEMU (`vng --qemu WRAPPER`).

virtme forks, execs QEMU, waits for it and returns 255 whenever the guest wrote no exit code,
so a kernel that ended the VM (a reset under -no-reboot, panic=-1, a power-off) and a QEMU
killed on the host (the OOM killer's SIGKILL) look the same from vng. The wrapper runs the real
qemu-system-<arch> as its child with the same arguments and stdio, appends how it ended to the
file named by $PINBENCH_QEMU_STATUS ("exit N" or "signal N", after a "start" line), and ends
the same way (same exit code, or killed by the same signal). Calls that are not a VM (virtme's
`--version` probe: no -kernel) exec QEMU directly. Python rather than sh: sh gives background
jobs /dev/null as stdin and ignores SIGINT in them, and cannot both forward signals and wait
reliably; Python (-IS: no site, ~10 ms) forwards them and reads the exact wait status.
QEMU itself exits 0 on SIGTERM, SIGINT and SIGHUP, printing "terminating on signal N" on its
stderr, which the console log shares with the guest's serial output: a guest can print the same
line. So the wrapper gives QEMU a pipe for stderr, copies it through to its own, and records
"said N" when QEMU itself said it; bench/run/cases.py trusts that, not the console.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

STATUS_ENV = "PINBENCH_QEMU_STATUS"
# QEMU's words on SIGTERM, SIGINT and SIGHUP (it exits 0): read by the wrapper on its stderr, and
# by bench/run/cases.py on the console when there was no wrapper
SIGNALLED = r"qemu\S*: terminating on signal (\d{1,3})\b"

_SCRIPT = '''#!{python} -IS
# pinbench's QEMU wrapper (bench/run/qemu.py): runs {qemu} as a child with the same arguments, stdio
# and exit status, and appends how it ended ("exit N" / "signal N", after "said N" when QEMU's own
# stderr said it ended on signal N) to ${env}.
import os, re, resource, select, signal, sys
QEMU, ARGS = {qemu!r}, sys.argv[1:]
if "-kernel" not in ARGS:  # a query (--version...), not a VM: nothing to record
    os.execv(QEMU, [QEMU, *ARGS])
STATUS = os.environ.get({env!r}, "")
FORWARD = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def note(line):
    if STATUS:
        try:
            fd = os.open(STATUS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, (line + "\\n").encode())
            os.close(fd)
        except OSError:
            pass


def copy(fd, rest):
    """Pass QEMU's stderr through; a line of QEMU's own saying it ended on a signal is noted."""
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        chunk = b""
    done = 0
    while done < len(chunk):
        try:
            done += os.write(2, chunk[done:])
        except OSError:
            break  # nobody reads our stderr: keep draining so QEMU never blocks on it
    *lines, rest = (rest + chunk).split(b"\\n")
    for line in lines:
        m = SAID.search(line)
        if m:
            note(f"said {{int(m.group(1))}}")
    return chunk, rest[-4096:]


note("start")
SAID = re.compile({said!r})
rd, wr = os.pipe()
signal.pthread_sigmask(signal.SIG_BLOCK, FORWARD)  # no signal lost before the handlers are in place
pid = os.fork()
if pid == 0:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARD)
    os.dup2(wr, 2)
    os.close(rd)
    os.close(wr)
    try:
        os.execv(QEMU, [QEMU, *ARGS])
    except OSError as e:
        os.write(2, f"{{QEMU}}: {{e.strerror}}\\n".encode())
    os._exit(127)
os.close(wr)
for s in FORWARD:
    signal.signal(s, lambda n, _frame: os.kill(pid, n))
signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARD)
rest, status = b"", None
while status is None:  # until QEMU ends (a child of QEMU may keep the pipe open after it)
    if select.select([rd], [], [], 0.5)[0]:
        chunk, rest = copy(rd, rest)
        if chunk:
            continue
        _, status = os.waitpid(pid, 0)  # end of file: QEMU closed its stderr
        break
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
os.set_blocking(rd, False)  # what QEMU wrote last, without waiting on a child that holds the pipe
while select.select([rd], [], [], 0)[0]:
    chunk, rest = copy(rd, rest)
    if not chunk:
        break
os.close(rd)
for s in FORWARD:  # its pid may be reused now
    signal.signal(s, signal.SIG_IGN)
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    note(f"signal {{sig}}")
    if sig not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(sig, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the wrapper's own core is of no use
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
    os.kill(os.getpid(), sig)  # die the same way, so vng's waitpid sees what QEMU's would
    sys.exit(128 + sig)
code = os.waitstatus_to_exitcode(status)
note(f"exit {{code}}")
sys.exit(code)
'''


@dataclass(frozen=True)
class QemuStatus:
    """How the main boot's QEMU ended; neither field set: unknown (no wrapper, or the wrapper
    itself was killed with it)."""

    code: int | None = None  # its exit code, when it exited by itself
    signal: int | None = None  # the signal that killed it
    sent: bool = False  # the bench signalled the VM itself (its timeout): not the host's doing
    said: int | None = None  # QEMU's own stderr said it ended on this signal (it exits 0 on TERM/INT/HUP)

    @property
    def known(self) -> bool:
        """The wrapper saw QEMU end (it ran, and outlived QEMU)."""
        return self.code is not None or self.signal is not None

    def __str__(self) -> str:
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        return "unknown" if self.code is None else f"exited {self.code}"


def wrapper_path(folder: Path, arch: str | None = None) -> Path:
    return folder / f"qemu-wrap-{arch or platform.machine()}"


def write_wrapper(folder: Path, arch: str | None = None) -> Path | None:
    """The wrapper of qemu-system-<arch> (the host's, as virtme picks it) in folder; None when
    there is no such QEMU or the path would not survive vng, which splits --qemu's value on
    spaces. Rewritten only when it differs (QEMU moved): a running vng may be about to exec it."""
    real = shutil.which(f"qemu-system-{arch or platform.machine()}")
    path = wrapper_path(folder, arch)
    if real is None or shlex.quote(str(path)) != str(path):
        return None
    text = _SCRIPT.format(python=sys.executable, qemu=os.path.abspath(real), env=STATUS_ENV,
                          said=SIGNALLED.encode())
    try:
        if path.read_text() == text and os.access(path, os.X_OK):
            return path
    except OSError:
        pass
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)  # executable before it takes the name
        os.replace(tmp, path)
    except OSError:
        return None  # no wrapper: the boot goes on, its QEMU's end unknown
    return path


def read_status(path: Path) -> QemuStatus:
    """The last VM's lines of a status file the wrapper wrote (those after its last "start")."""
    try:
        lines = path.read_text().split("\n")
    except OSError:
        return QemuStatus()
    last = max((i for i, ln in enumerate(lines) if ln.strip() == "start"), default=-1)
    found: dict[str, int] = {}
    for words in (ln.split() for ln in lines[last + 1:]):
        if len(words) == 2 and words[0] in ("exit", "signal", "said") and words[1].isdigit():
            found[words[0]] = int(words[1])
    # neither exit nor signal: the wrapper died with QEMU (unknown)
    return QemuStatus(code=found.get("exit"), signal=found.get("signal"), said=found.get("said"))
