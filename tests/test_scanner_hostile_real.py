"""Real crash logs put through what a console really does to them: CRLF line ends, a line cut in
two by another CPU's record, NUL padding, no newline at the end, a very long line. The scanner must
not raise, must stay fast, and must not invent reports (each variant's titles are among the
original's, and no more of them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.report.scanner import scan

CONSOLE = Path(__file__).parent / "data" / "console"
# Real logs of the 2026-12-06 seventh round (vendor prefixes, decoded frames, sanitizers) and older ones.
LOGS = ["workqueue-lockup-then-warn-lkp-decoded-6.8-rc2.log", "panic-samsung-cpu-comm-pid-prefix-4.9.log",
        "warn-amdgpu-dmesg-T-hu-locale-5.8.log", "kasan-hw-tags-invalid-access-packet-syzbot-arm64-6.4.log",
        "arm32-null-deref-exynos-cpu-field-3.0.log", "slab-corruption-single-bit-resctrl-excerpt-5.x.log",
        "lockdep-circular-gup-syzbot.log", "clean-ath10k-timeouts-dmesg-T-hu-locale-5.8.log"]
OTHER_CPU = "[  999.000001][    C3] sched: RT throttling activated"


def _text(name: str) -> str:
    return "".join(line + "\n" for line in (CONSOLE / name).read_text(encoding="utf-8").splitlines()
                   if not line.startswith("#@ "))


def _cut_by_other_cpu(text: str) -> str:
    """Every 7th line cut in the middle by another CPU's record (printk without a lock, old kernels)."""
    out = []
    for i, line in enumerate(text.splitlines()):
        if i % 7 == 3 and len(line) > 20:
            half = len(line) // 2
            out += [line[:half], OTHER_CPU, line[half:]]
        else:
            out.append(line)
    return "\n".join(out) + "\n"


VARIANTS: dict[str, Callable[[str], str]] = {
    "crlf": lambda t: t.replace("\n", "\r\n"),
    "cut by another CPU": _cut_by_other_cpu,
    "NUL padding": lambda t: t.replace("\n", "\x00\x00\n", 5).replace("[", "\x00[", 3),
    "no trailing newline": lambda t: t.rstrip("\n"),
    "a 2 MB line in the middle": lambda t: t[:len(t) // 2] + "\n" + "x" * (2 << 20) + "\n" + t[len(t) // 2:],
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", LOGS)
def test_a_mangled_real_log_gives_no_new_report(name: str, variant: str) -> None:
    text = _text(name)
    want = [r.title for r in scan(text.splitlines())]
    start = time.perf_counter()
    got = [r.title for r in scan(VARIANTS[variant](text).splitlines())]
    assert time.perf_counter() - start < 5, "the scanner must stay linear"
    assert set(got) <= set(want) and len(got) <= len(want), (got, want)
    if variant in ("crlf", "no trailing newline"):
        assert got == want  # lossless for the kernel's text


def test_a_cut_frame_line_still_leaves_the_first_title() -> None:
    # An interleaved record may cost frames but not the report: the header lines are intact here.
    text = _text("warn-amdgpu-dmesg-T-hu-locale-5.8.log")
    got = scan(_cut_by_other_cpu(text).splitlines())
    assert got and got[0].title == "WARNING in dc_link_set_backlight_level"
