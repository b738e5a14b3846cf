"""The kernel's own checks a run switches on (bench/run/kernel_checks.py): the words every boot
gets, and the line a run prints for each, on or off and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run import kernel_checks
from bench.run.kernel_checks import kstrtobool, states

BOTH = "CONFIG_PAGE_OWNER=y\nCONFIG_PAGE_POISONING=y\n"


@pytest.mark.parametrize("value, want", [
    ("1", True), ("y", True), ("Yes", True), ("on", True), ("ON", True), ("true", True), ("enable", True),
    ("0", False), ("n", False), ("off", False), ("false", False), ("disable", False),
    ("o", None), ("", None), ("2", None), ("maybe", None),
])
def test_kstrtobool_reads_a_value_as_the_kernel_does(value: str, want: bool | None) -> None:
    assert kstrtobool(value) is want


def test_every_boot_asks_for_every_check() -> None:
    assert kernel_checks.WORDS == ("page_owner=on", "page_poison=1", "debug_pagealloc=on")
    # the fragment the default set always merges builds the first two in (a word alone is a
    # no-op); the third only a user's own fragment (docs/oracles.md says why)
    kconfigs = Path(__file__).resolve().parent.parent / "kconfigs"
    default = (kconfigs / "debug-vm.config").read_text().splitlines()
    assert [f"{c.option}=y" in default for c in kernel_checks.CHECKS] == [True, True, False]
    assert not any("CONFIG_DEBUG_PAGEALLOC=y" in f.read_text().splitlines() for f in kconfigs.glob("*.config"))


@pytest.mark.parametrize("config, cmdline, poison", [
    (BOTH, ["page_owner=on", "page_poison=1"], "on"),
    (BOTH, ["page_owner=on", "page_poison=1", "page_poison=0"], "off, page_poison=0 on the command line"),
    (BOTH, ["page_owner=on", "page_poison=1", "page_poison=on"], "on"),  # the last word wins, either spelling
    (BOTH, ["page_owner=on"], "off, no page_poison=1 on the command line"),
    (BOTH, ["page_poison=what"], "off, page_poison=what on the command line"),
    ("CONFIG_PAGE_OWNER=y\n# CONFIG_PAGE_POISONING is not set\n", ["page_poison=1"],
     "off, the kernel was built without CONFIG_PAGE_POISONING"),
])
def test_the_run_says_whether_poisoning_is_on_and_why_not(config: str, cmdline: list[str], poison: str) -> None:
    lines = states(config, cmdline)
    assert lines[1] == f"page poisoning (writes into freed pages): {poison}"


def test_debug_pagealloc_line_follows_the_same_rule() -> None:
    config = BOTH + "CONFIG_DEBUG_PAGEALLOC=y\n"
    assert states(config, list(kernel_checks.WORDS))[2] == "debug_pagealloc (kernel accesses to freed pages): on"
    assert states(config, [*kernel_checks.WORDS, "debug_pagealloc=off"])[2].endswith(
        "off, debug_pagealloc=off on the command line")
    assert states(BOTH, list(kernel_checks.WORDS))[2].endswith("off, the kernel was built without CONFIG_DEBUG_PAGEALLOC")


def test_page_owner_line_follows_the_same_rule() -> None:
    assert states(BOTH, ["page_owner=on", "page_owner=off"])[0].endswith("off, page_owner=off on the command line")
    assert states("", ["page_owner=on"])[0].endswith("off, the kernel was built without CONFIG_PAGE_OWNER")
