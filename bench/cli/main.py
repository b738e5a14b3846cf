"""The `bench` command: argparse in, exit code out (0 pass, 1 fail, 2 infrastructure/usage).

One parser; each command module of bench/cli/ adds its subcommands and their handlers (b4's
shared option groups). `bench bisect-step` speaks `git bisect run` instead: every error, usage ones
included, is 128, never a code git would read as "bad".
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from bench.base.errors import BenchError, one_line
from bench.base.files import cannot_write, disk_trouble, write_atomic
from bench.cli import bisect, is_the_command, nightly, prove, run, scan
from bench.run.plan import default_cache, default_home

BISECT_ABORT = 128
SUBMODULES = (run, scan, bisect, nightly, prove)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBMODULES:
        module.add_parsers(sub)
    return parser


_stopping = False  # set by the first signal; the CLI's global state, with _done
_done = False  # the command has returned: a signal now must not turn its exit code into a traceback


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM (a cancelled CI job, timeout(1)) and SIGHUP end a run like Ctrl-C does: the
    # stages' cleanup runs and the results folder gets its summary and JUnit. Said at once,
    # since stopping a VM takes a few seconds.
    global _stopping
    name = signal.Signals(signum).name
    if _done:  # results written, exit code known: a KeyboardInterrupt here was a traceback and exit 1
        print(f"bench: {name}: the command has finished; exiting with its code", file=sys.stderr, flush=True)
        return
    if _stopping:  # a second Ctrl-C must not cut the cleanup short (QEMU's SIGKILL, summary.json)
        print(f"bench: {name}: stopping, please wait", file=sys.stderr, flush=True)
        return
    _stopping = True
    print(f"bench: {name}: stopping, the results so far are being saved", file=sys.stderr, flush=True)
    raise KeyboardInterrupt(name)


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None  # signal.getsignal()'s


def main(argv: Sequence[str] | None = None) -> int:
    global _stopping, _done
    _stopping = _done = False
    argv = list(sys.argv[1:] if argv is None else argv)
    step = argv[:1] == ["bisect-step"]
    replaced = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, _terminate)
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # usage error (2) or --help (0)
            if step and e.code not in (0, None):
                return BISECT_ABORT
            return int(e.code or 0) if isinstance(e.code, int) or e.code is None else 2
        return dispatch(args, abort=BISECT_ABORT if step else None)
    finally:
        _done = True
        _after(replaced)


def _after(replaced: dict[signal.Signals, Handler]) -> None:
    """The handlers once main() returns. The command ignores signals: Python's shutdown puts back
    the default handlers, and a signal then killed it silently (130 after a run that passed). A
    host that called main() in-process (a test runner) gets back the handlers main() replaced:
    with _terminate left in place, a SIGTERM only said "the command has finished" and pytest
    could no longer be stopped by it (a stopped command's host too: its run was stopped, not it)."""
    for sig in SIGNALS:
        before = replaced[sig]
        # None: a handler not set from Python, which cannot be put back; the default is closest
        signal.signal(sig, signal.SIG_IGN if is_the_command() else signal.SIG_DFL if before is None else before)


class _Stdout:
    """stdout (or stderr), whose reader may leave (`bench scan LOG | head`): from the first write that finds
    the pipe closed, the output goes nowhere and the command goes on to its own exit code. A
    BrokenPipeError that ended the command was exit 0 (bisect-step: git's "good") for a log
    with a new report, and cut a run short before its summary.json."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._out.write(text)
            except BrokenPipeError:
                self._left()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._out.flush()
            except BrokenPipeError:
                self._left()

    def _left(self) -> None:
        self._gone = True
        try:  # what the stream still buffers goes to /dev/null at exit, not to a warning on stderr
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._out.fileno())
            os.close(null)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)


def dispatch(args: argparse.Namespace, abort: int | None = None) -> int:
    """Run the chosen command; a BenchError becomes its one-line message and exit code.

    abort: the code for every error (bisect-step's 128) instead of the usual ones.
    """
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Stdout(out), _Stdout(err)  # an error line to a closed stderr too
    try:
        handler: Callable[[argparse.Namespace], int] = args.func
        return int(handler(args))
    except BenchError as e:
        print(f"bench: error: {one_line(str(e))}", file=sys.stderr)  # one line, however odd the input
        return abort or e.exit_code
    except KeyboardInterrupt as e:
        print(f"bench: interrupted{f' by {e}' if str(e) else ''}", file=sys.stderr)
        return abort or 2
    except Exception as e:  # noqa: BLE001 - a bug of ours is exit 2 (128), never a traceback's 1
        if isinstance(e, OSError) and disk_trouble(e):  # the machine's, not a bug: no traceback
            print(f"bench: error: {cannot_write(Path(e.filename or '.'), e)}", file=sys.stderr)
            return abort or 2
        kept = _keep_traceback(e, args)
        first = str(e).splitlines()[0] if str(e) else ""
        print(f"bench: error: {one_line('internal error: ' + type(e).__name__ + (': ' + first if first else ''))} ({kept})",
              file=sys.stderr)
        return abort or 2
    finally:
        sys.stdout, sys.stderr = out, err


def _keep_traceback(e: Exception, args: argparse.Namespace) -> str:
    """Write the traceback to a file in the results root (--results, else <home>/results), else
    the cache; where it went, or, when no file could be written, print it."""
    text = "".join(traceback.format_exception(e))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    given = getattr(args, "results", None)
    roots = [r for r in (given, default_home() / "results", default_cache()) if isinstance(r, Path)]
    for root in roots:
        try:
            root.mkdir(parents=True, exist_ok=True)
            write_atomic(root / name, text)
            return f"traceback in {root / name}"
        except (OSError, BenchError):
            continue
    print(text, file=sys.stderr, end="")
    return "traceback above"


if __name__ == "__main__":
    sys.exit(main())
