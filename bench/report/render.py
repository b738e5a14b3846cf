"""Found reports rendered for machines (a JSON-able dict) and for people (a few lines)."""

from __future__ import annotations

from bench.report.scanner import Report


def report_to_dict(report: Report, count: int) -> dict[str, object]:
    """The JSON-able form of a (folded) report; raw lines are left out to keep it one line."""
    return {
        "title": report.title,
        "type": report.type,
        "count": count,
        "corrupted": report.corrupted,
        "corrupted_reason": report.corrupted_reason,
        "guilty_func": report.guilty_func,
        "guilty_file": report.guilty_file,
        "first_line": report.first_line,
        "last_line": report.last_line,
        "taint": report.taint,
        "detail": report.detail,
        "panicked": report.panicked,
        "category": report.category,
        "alt_titles": list(report.alt_titles),
        "call_trace": list(report.call_trace),
    }


def format_report(report: Report, count: int, known: bool, excerpt: int = 12) -> str:
    """A few lines for humans: title, where and why, the first frames, the start of the log."""
    flags = [f"x{count}"] if count > 1 else []
    flags += ["known"] if known else []
    flags += [f"corrupted: {report.corrupted_reason}"] if report.corrupted else []
    out = [f"[{report.type}] {report.title}" + (f"  ({', '.join(flags)})" if flags else "")]
    where = f"  lines {report.first_line + 1}-{report.last_line + 1}"
    if report.guilty_func:
        where += f", in {report.guilty_func}" + (f" ({report.guilty_file})" if report.guilty_file else "")
    where += f", taint {report.taint}" if report.taint else ""
    where += ", kernel panicked" if report.panicked else ""
    out.append(where)
    trace = report.call_trace
    if report.guilty_func in trace:  # start at the guilty frame: the helpers above it are noise
        trace = trace[trace.index(report.guilty_func):]
    if trace:
        out.append("  call trace: " + " < ".join(trace[:6]) + (" < ..." if len(trace) > 6 else ""))
    out += [f"  | {line}" for line in report.raw[:excerpt]]
    if len(report.raw) > excerpt:
        out.append(f"  | ... ({len(report.raw) - excerpt} more lines)")
    return "\n".join(out)
