"""The command line: the only users of argparse (bench/cli/main.py is the entry point).

Importing the bench takes a second or more on a loaded machine (3.1 s measured); a SIGTERM or
SIGHUP then (a CI job cancelled at once) killed it with 143 or 129, a Ctrl-C with a traceback
and 130: codes no caller of the bench expects. Until
main() puts in its own handlers (which save the results so far), such a signal ends the
command with 2, the code of a stopped run: nothing was started yet. When main() returns, the
command ignores signals and a host that called it in-process gets back the handlers main() replaced.
"""

import os
import signal
import sys
from pathlib import Path
from types import FrameType


def _stopped_while_starting(signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write(f"bench: interrupted by {signal.Signals(signum).name} while starting\n")
    os._exit(2)  # during imports: nothing to save, and an exception here would be a traceback and 1


def is_the_command() -> bool:
    """This process is the bench command itself (the `bench` script, `python3 -m bench`), not a
    host that imported the bench (a test runner, a script): only the command takes over Ctrl-C,
    which Python itself always handles (a KeyboardInterrupt), so no SIG_DFL tells them apart."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return argv0.name == "bench" or (argv0.name == "__main__.py" and argv0.parent.name == "bench")


for _sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    if signal.getsignal(_sig) is signal.SIG_DFL or (  # not a host that chose its own (a test runner)
            _sig is signal.SIGINT and signal.getsignal(_sig) is signal.default_int_handler and is_the_command()):
        signal.signal(_sig, _stopped_while_starting)
