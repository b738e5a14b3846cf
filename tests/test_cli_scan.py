"""`bench scan` (bench/cli/scan.py) on real console logs from tests/data/console."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bench.base.errors import UserError
from bench.cli import scan as scan_cli

CONSOLE = Path(__file__).parent / "data" / "console"


def console_log(tmp_path: Path, fixture: str, first: int = 0, last: int | None = None) -> Path:
    """Write a fixture's log (without its #@ header), or a slice of it, to a file."""
    lines = [l for l in (CONSOLE / fixture).read_text().splitlines() if not l.startswith("#@ ")]
    out = tmp_path / f"{fixture}-{first}-{last}.log"
    out.write_text("\n".join(lines[first:last]) + "\n")
    return out


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="bench")
    scan_cli.add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["scan", *argv])
    assert args.func is scan_cli.handle
    return int(args.func(args))


def test_text_output_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = console_log(tmp_path, "rxe-new-warn-format-elided.log")
    assert run(str(log)) == 1
    out = capsys.readouterr().out
    assert f"{log}: 4 kernel report(s), 3 distinct, 3 new" in out
    assert "[WARNING] WARNING in corrupted  (x2, corrupted: extracted no frames)" in out
    assert "[REFCOUNT] WARNING: refcount bug in corrupted  (corrupted: extracted no frames)" in out


def test_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = console_log(tmp_path, "vm-bug-on-page-xen-boot.log")
    b = console_log(tmp_path, "lkp-kasan-then-gpf-interleaved.log")
    assert run("--json", str(a), str(b)) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["file"], r["type"], r["known"]) for r in rows] == [
        (str(a), "VM_BUG_ON_PAGE", False), (str(b), "KASAN", False), (str(b), "GPF", False)]
    assert rows[0]["title"] == "kernel BUG in xen_pin_page"
    assert rows[2]["taint"] == "SB" and rows[2]["count"] == 1


def test_suppressed_reports_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = console_log(tmp_path, "kmemleak-tap-selftest.log")
    supp = tmp_path / "known.txt"
    supp.write_text("# tap hash leak, reported on netdev\n^memory leak in tun_vnet_ioctl_sethash$\n")
    assert run("--suppress", str(supp), "--json", str(log)) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["known"] is True and row["title"] == "memory leak in tun_vnet_ioctl_sethash"


def test_clean_log_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = console_log(tmp_path, "rcu-stall-cut-off-thunderbolt.log", 0, 8)  # the lines before the stall
    assert run(str(log)) == 0
    assert capsys.readouterr().out == f"{log}: no kernel reports\n"


def test_unreadable_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="nope.log: cannot read console log"):
        run(str(tmp_path / "nope.log"))


def test_bad_suppressions_file_is_a_user_error(tmp_path: Path) -> None:
    supp = tmp_path / "known.txt"
    supp.write_text("[unclosed\n")
    with pytest.raises(UserError, match=r"known.txt:1: bad title regex"):
        run("--suppress", str(supp), str(console_log(tmp_path, "soft-lockup-boot.log")))


def test_invalid_utf8_is_replaced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = console_log(tmp_path, "soft-lockup-boot.log")
    log.write_bytes(b"\xff\xfe garbage from the serial line\n" + log.read_bytes())
    assert run("--json", str(log)) == 1
    assert json.loads(capsys.readouterr().out)["title"] == "BUG: soft lockup in kernel_init"
