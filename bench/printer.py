"""Human output: timestamped progress lines and the end-of-run summary.

Parsers and stages never print; they hand text to a Printer. Colour only on a tty.
"""

from __future__ import annotations

import codecs
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bench.result import RunResult, Status

if TYPE_CHECKING:  # printing needs only the attributes; importing these here would be a cycle
    from bench.bisect.model import BisectResult
    from bench.prove import Verdict

_COLOURS = {Status.PASS: "32", Status.FAIL: "31", Status.ERROR: "33", Status.SKIP: "36"}


class _Clean:
    """A stream that takes any str: a name or title read from a console or a file may hold a lone
    surrogate (bytes that were not UTF-8, a JSON escape) or a character the stream cannot encode,
    which a strict stdout refuses with UnicodeEncodeError; those are written escaped (\\udcff)."""

    def __init__(self, stream: TextIO) -> None:
        self.inner = stream
        try:
            self.encoding = codecs.lookup(getattr(stream, "encoding", None) or "utf-8").name
        except LookupError:
            self.encoding = "utf-8"

    def write(self, text: str) -> int:
        try:
            text.encode(self.encoding)
        except UnicodeEncodeError:
            text = text.encode(self.encoding, "backslashreplace").decode(self.encoding)
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()


class Printer:
    def __init__(self, stream: TextIO | _Clean | None = None, prefix: str = "") -> None:
        given = stream or sys.stdout
        self.stream = given if isinstance(given, _Clean) else _Clean(given)
        self.colour = self.stream.isatty()
        self.prefix = prefix

    def nested(self, prefix: str) -> Printer:
        """The same output, each line marked as belonging to a sub-run (a baseline, a bisect step)."""
        return Printer(self.stream, self.prefix + prefix)

    def say(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.stream.write(f"[{stamp}] {self.prefix}{text}\n")
        self.stream.flush()

    def status(self, status: Status) -> str:
        word = status.name
        return f"\033[1;{_COLOURS[status]}m{word}\033[0m" if self.colour else word

    def text(self, text: str) -> None:
        """A block made elsewhere (a table), as it is."""
        self.stream.write("\n" + text)
        self.stream.flush()

    def summary(self, result: RunResult) -> None:
        out = self.stream
        out.write(f"\n==== pinbench {result.series} ({result.run_id}) ====\n")
        for case in result.cases:
            msg = f"  {case.message}" if case.message else ""
            out.write(f"  {self.status(case.status):<5} {case.group}/{case.name} ({case.secs:.1f}s){msg}\n")
        counts = {s: sum(1 for c in result.cases if c.status is s) for s in Status}
        tally = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        out.write(f"verdict: {self.status(result.verdict)} ({tally}) in {result.secs:.0f}s\n")
        for case in result.failures():
            out.write(f"  - {case.group}/{case.name}: {case.message}\n")
        for note in result.info.get("notes", []):
            out.write(f"note: {note}\n")
        out.write(f"results: {result.results_dir}\n")
        out.flush()

    def bisect_summary(self, result: BisectResult) -> None:
        out = self.stream
        out.write(f"\n==== pinbench bisect {result.series} ({result.run_id}) ====\n")
        for step in result.steps:
            out.write(f"  {step.log_line()}\n")
        out.write(f"{result.conclusion.value.upper()}: {result.message}\n")
        if c := result.culprit:
            out.write(f"  subject:   {c.subject}\n")
            if c.commit and c.commit != c.name:
                out.write(f"  commit:    {c.commit}\n")
            out.write(f"  signature: {', '.join(result.signature)}\n")
            for e in c.evidence:
                out.write(f"  {e.key}: {e.message}\n")
        out.write(f"builds: {result.builds} in {len(result.steps)} step(s) of {result.runs} run(s), {result.secs:.0f}s\n")
        out.write(f"results: {result.results_dir}\n")
        out.flush()

    def night_summary(self, night_dir: Path, night: dict[str, Any]) -> None:
        c = night["comparison"]
        self.say(f"nightly {night['name']}: compared with {c['previous'] or 'nothing (first night)'}: "
                 + ", ".join(f"{len(c[k])} {k}" for k in ("new", "fixed", "still", "infra", "untested")))
        for kind in ("new", "fixed", "infra"):
            for item in c[kind]:
                self.say(f"  {kind}: {item['id']}: {item['key']} {item['message']}".rstrip())
        if night["missing"]:
            self.say(f"  missing: {', '.join(night['missing'])}")
        for k in night.get("stale_known", []):
            self.say(f"  known issue {k['id']} matched nothing for {k['nights']} nights: remove it? ({k['where']})")
        self.say(f"nightly: exit {night['exit_code']}; report {night_dir / 'index.html'}")

    def prove_summary(self, control: RunResult, verdicts: list[Verdict], folder: Path) -> None:
        out = self.stream
        out.write(f"\n==== pinbench prove ({folder.name}) ====\n")
        out.write(f"  control (the tree as it is): {self.status(control.verdict)} in {control.secs:.0f}s\n")
        width = max((len(v.name) for v in verdicts), default=4)
        must = max((len(", ".join(v.expected)) for v in verdicts), default=9)
        out.write(f"  {'bug':<{width}}  {'outcome':<8}  {'must fail':<{must}}  {'time':>5}  what failed\n")
        for v in verdicts:
            failed = ", ".join(v.failed) or "-"
            out.write(f"  {v.name:<{width}}  {v.outcome.value:<8}  {', '.join(v.expected):<{must}}  "
                      f"{v.secs:>4.0f}s  {failed}\n")
        for v in verdicts:  # a line a bug: which cases failed and with what message
            out.write(f"  {v.line()}\n")
        caught = sum(v.outcome.value == "caught" for v in verdicts)
        if control.verdict is not Status.PASS:  # a bench failing a clean kernel proves nothing
            out.write(f"no catch figure: the control did not pass; results: {folder}\n")
        else:
            rate = f"{100 * caught / len(verdicts):.0f}%" if verdicts else "-"
            out.write(f"caught {caught} of {len(verdicts)} ({rate}); results: {folder}\n")
        out.flush()
