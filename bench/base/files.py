"""Result files written atomically: a reader (CI, a dashboard, `bench merge`) never sees half a file.

The text goes to a temporary file in the same folder, is flushed to disk, then renamed over
the target. A full disk raises InfraError naming the file; the old file, if any, stays whole,
and the temporary file or folder is removed.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import fcntl
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from bench.base.console_lines import LineSplitter
from bench.base.errors import InfraError, UserError
from bench.base.limits import LIMITS

_UMASK = os.umask(0o022)  # read once (setting is the only way), then put back
os.umask(_UMASK)


def kind(mode: int) -> str:
    """What a file that is not a regular one is, for an error ("/tmp/x: a directory, not ...")."""
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def read_input(path: Path) -> bytes:
    """The bytes of a file the user gave (a patch, series, series.yaml, a matrix...): a regular
    file only. A FIFO or a device would block the read forever (or never end: /dev/zero); it is
    opened without blocking and refused, as is anything that cannot be read (UserError)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENOENT and os.path.islink(path):
            raise UserError(f"{path}: a symlink to {os.readlink(path)!r}, which does not exist") from e
        raise UserError(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UserError(f"{path}: not a regular file ({kind(os.fstat(fd).st_mode)})")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(LIMITS.input_bytes + 1)  # a sparse 20 GB file was read whole: MemoryError
        if len(data) > LIMITS.input_bytes:
            raise UserError(f"{path}: {os.fstat(fd).st_size} bytes, over the limit of {LIMITS.input_bytes}"
                            " for a file the bench reads (input_bytes)")
        return data
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror or e}") from e
    finally:
        os.close(fd)


def present(path: Path) -> bool:
    """Whether a file the user may give is there to be read: a symlink whose target is gone
    counts (read_input then names it). Path.exists() says no to it, and a dangling series.yaml,
    quilt `series` or known-issues.yaml was passed over without a word: the run went on without
    its base, workloads, expectations or known issues (or applied other patches)."""
    return os.path.lexists(path)


@contextlib.contextmanager
def _regular(path: Path) -> Iterator[int | None]:
    """An fd of path when it is a regular file reached without a symlink (the last component),
    opened without blocking (a FIFO is not waited on), else None; closed afterwards."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        yield None
        return
    try:
        yield fd if stat.S_ISREG(os.fstat(fd).st_mode) else None
    finally:
        os.close(fd)


def read_guest(path: Path, limit: int, end: bool = False) -> str | None:
    """A file the guest wrote into the results folder (a workload's .log/.rc, pin and taint
    snapshots): at most `limit` bytes (its end, with end=True), a regular file only, no symlink
    followed. The guest (the kernel under test, a workload running as root) controls these: a
    FIFO, a link to /dev/zero or a host file, or gigabytes of output must not hang the host,
    fill its memory or leak a host file into the pages. None when it is not such a file."""
    try:
        with _regular(path) as fd:
            if fd is None:
                return None
            size = os.fstat(fd).st_size
            if end and size > limit:
                os.lseek(fd, size - limit, os.SEEK_SET)
            with os.fdopen(fd, "rb", closefd=False) as f:
                return f.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None


def guest_lines(path: Path, keep: Callable[[str], bool], limit: int) -> tuple[list[str], int] | None:
    """The lines keep() wants of a file the guest wrote, by read_guest's rules but read as a
    stream, so a line anywhere in it counts: at most `limit` bytes, each line cut at
    LIMITS.console_line. (lines, bytes left unread past the limit); None when it is not a regular
    file. A workload's CASE lines were looked for in its first megabyte only: a FAIL printed
    after that was never seen."""
    try:
        with _regular(path) as fd:
            if fd is None:
                return None
            splitter, decoder = LineSplitter(), codecs.getincrementaldecoder("utf-8")("replace")
            kept: list[str] = []
            read = 0
            while read < limit and (chunk := os.read(fd, min(1 << 16, limit - read))):
                read += len(chunk)
                kept += (ln for ln in splitter.feed(decoder.decode(chunk)) if keep(ln))
            kept += (ln for ln in splitter.feed(decoder.decode(b"", final=True)) + splitter.close() if keep(ln))
            return kept, max(0, os.fstat(fd).st_size - read)
    except OSError:
        return None


def read_tree(path: Path) -> str | None:
    """A file of the patched kernel tree the bench reads itself (coverage's source lines, a
    Makefile): by read_guest's rules, at most LIMITS.tree_file bytes. The series wrote it: a
    patch can make a file a symlink (git applies `new file mode 120000`) to /dev/zero, which
    read forever, or to a host file, whose lines would reach the pages. None when it is not a
    regular file."""
    return read_guest(path, LIMITS.tree_file)


_DECIMAL = re.compile(r"-?[0-9]+")


def guest_int(word: str) -> int | None:
    """A whole number in a file the guest wrote (a counter, a pid, an exit code), or None: ASCII
    digits only, at most LIMITS.int_digits of them. str.isdigit() says yes to '²' and '٣',
    which int() refuses: a snapshot holding one crashed the run's pages ("writing the results")."""
    if not _DECIMAL.fullmatch(word) or len(word.lstrip("-")) > LIMITS.int_digits:
        return None
    return int(word)


def append_guest(path: Path, text: str) -> bool:
    """text appended to a file the guest wrote (a workload's log): only to a regular file, never
    through a symlink (the guest could point it at a host file) nor into a FIFO. False if not."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        os.write(fd, text.encode("utf-8", errors="surrogateescape"))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    data = text.encode("utf-8", errors="surrogateescape")
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)  # as open() would make it: pages get published
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:  # a signal too (KeyboardInterrupt): a stopped run leaves no .tmp
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, OSError):
            raise cannot_write(path, e) from e
        raise


# The errors that mean "this disk takes no more": the machine's trouble, said in two words.
_FULL = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk full (quota)", errno.EROFS: "read-only file system"}


def disk_trouble(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in _FULL


def said_disk_trouble(lines: Iterable[str]) -> str:
    """What a tool's output says of the disk by its C library's words (strerror: "No space left
    on device"...), "" if nothing: git am failing to write a patched file is the machine's."""
    words = {os.strerror(code): why for code, why in _FULL.items()}
    return next((why for line in lines for said, why in words.items() if said in line), "")


def cannot_write(path: Path, e: OSError) -> InfraError:
    """One line naming the file and why (disk full, read-only...)."""
    why = _FULL.get(e.errno or 0) or e.strerror or str(e).splitlines()[0]
    return InfraError(f"{path}: cannot write: {why}")


def copy_tree(src: Path, dest: Path) -> list[Path]:
    """src copied to dest whole or not at all: into a hidden temporary folder beside dest,
    renamed over it. On an error nothing is left behind (InfraError naming the file).

    Symlinks are not copied (neither followed nor made): a results folder is published and
    read elsewhere, and a link in it would lead out of it. They are returned, for the caller
    to name; a src that is itself a symlink copies nothing."""
    if src.is_symlink():
        return [src]
    links: list[Path] = []
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    target = tmp
    try:
        for root, dirs, names in os.walk(src):  # followlinks=False: a linked folder is in dirs, not walked
            here = tmp / os.path.relpath(root, src)
            for d in dirs:
                if (Path(root) / d).is_symlink():
                    links.append(Path(root) / d)
                    continue
                target = here / d
                target.mkdir()
            for n in names:
                if (Path(root) / n).is_symlink():
                    links.append(Path(root) / n)
                    continue
                target = here / n
                shutil.copyfile(Path(root) / n, target, follow_symlinks=False)
                shutil.copymode(Path(root) / n, target, follow_symlinks=False)
        if dest.exists():
            shutil.rmtree(dest)
        target = dest
        os.replace(tmp, dest)
    except BaseException as e:  # a signal too (KeyboardInterrupt): a stopped run leaves no .tmp folder
        shutil.rmtree(tmp, ignore_errors=True)
        if not isinstance(e, OSError):
            raise
        # the file being written (an error of sendfile names the source in e.filename)
        raise cannot_write(dest / target.relative_to(tmp) if target.is_relative_to(tmp) else target, e) from e
    return links


@contextlib.contextmanager
def locked(path: Path, what: str, wait_s: float | None = None) -> Iterator[None]:
    """An exclusive flock on path (made if missing) for the block, waited for at most wait_s
    (default LIMITS.lock_wait_s): a holder that is stopped or hung must not hang this run for ever."""
    limit = LIMITS.lock_wait_s if wait_s is None else wait_s
    deadline = time.monotonic() + limit
    with open(path, "a") as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the file closes
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise InfraError(f"{path}: held by another process for over {limit:.0f} s ({what}); "
                                     "if no bench run is doing that, stop the process holding it") from None
                time.sleep(0.5)
        yield
