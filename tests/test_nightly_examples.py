"""The CI examples stay in step with the commands: valid YAML, and every bench command parses."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.cli import nightly as nightly_cli

EXAMPLES = Path(__file__).resolve().parent.parent / "ci-examples"


def bench_commands(text: str) -> list[list[str]]:
    """Every `python3 -m bench ...` command line, folded lines joined, shell tail cut off."""
    flat = re.sub(r"\s*\n\s+", " ", text)
    out = []
    for m in re.finditer(r"python3 -m bench ([^|\n]*)", flat):
        out.append(shlex.split(m.group(1).split(" || ")[0]))
    return out


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench")
    nightly_cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def scripts(node: Any) -> str:
    if isinstance(node, dict):
        return "\n".join(scripts(v) for v in node.values())
    if isinstance(node, list):
        return "\n".join(scripts(v) for v in node)
    return str(node)


def test_gitlab_runs_parallel_shards_and_merges() -> None:
    ci = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    assert ci["nightly"]["parallel"] == 4 and ci["nightly-merge"]["when"] == "always"
    commands = [parse(c) for c in bench_commands(scripts(ci))]
    assert [a.command for a in commands] == ["nightly", "merge"]
    assert commands[0].shard == "$CI_NODE_INDEX/$CI_NODE_TOTAL"


def test_github_runs_a_shard_matrix_and_merges() -> None:
    wf = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    assert wf["jobs"]["shard"]["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    assert wf["jobs"]["merge"]["needs"] == "shard"
    commands = [parse(c) for c in bench_commands(scripts(wf))]
    assert [a.command for a in commands] == ["nightly", "merge"]


@pytest.mark.parametrize("unit", ["pinbench-nightly.service", "pinbench-nightly.timer"])
def test_systemd_units(unit: str) -> None:
    text = (EXAMPLES / "systemd" / unit).read_text()
    if unit.endswith(".service"):
        (argv,) = bench_commands(text)
        assert parse(argv).command == "nightly" and "Type=oneshot" in text
    else:
        assert "OnCalendar=" in text and "Persistent=true" in text
