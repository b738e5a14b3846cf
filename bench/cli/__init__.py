"""The command line: the only users of argparse (bench/cli/main.py is the entry point).

Importing the bench takes a second or more on a loaded machine; a SIGTERM or SIGHUP then (a CI
job cancelled at once) killed it with 143 or 129, codes no caller of the bench expects. Until
main() puts in its own handlers (which save the results so far), such a signal ends the
command with 2, the code of a stopped run: nothing was started yet.
"""

import os
import signal
import sys
from types import FrameType


def _stopped_while_starting(signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write(f"bench: interrupted by {signal.Signals(signum).name} while starting\n")
    os._exit(2)  # during imports: nothing to save, and an exception here would be a traceback and 1


for _sig in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_sig) is signal.SIG_DFL:  # not a host that chose its own (a test runner)
        signal.signal(_sig, _stopped_while_starting)
