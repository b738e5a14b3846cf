"""Result files written atomically: a reader (CI, a dashboard, `bench merge`) never sees half a file.

The text goes to a temporary file in the same folder, is flushed to disk, then renamed over
the target. A full disk raises InfraError naming the file; the old file, if any, stays whole.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from bench.errors import InfraError

_UMASK = os.umask(0o022)  # read once (setting is the only way), then put back
os.umask(_UMASK)


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
    except OSError as e:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        why = "disk full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else (e.strerror or str(e))
        raise InfraError(f"{path}: cannot write: {why}") from e
