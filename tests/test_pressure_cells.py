"""pin-matrix's pressure/ cells (guests/src/pressure_cells.h: kswapd, memory.high, memcg OOM,
swap files and swap discard under pins) as the host reads them: real guest output, recorded from
`bench run` on this machine (tests/data/guest/README.md says which run each log is)."""
import re
from pathlib import Path

from bench.run import subcases
from bench.run.result import Status

GUEST_LOGS = Path(__file__).parent / "data" / "guest"
HEADER = Path(__file__).resolve().parent.parent / "guests" / "src" / "pressure_cells.h"


def _log(name: str) -> tuple[list[str], dict[str, subcases.Subcase]]:
    lines = (GUEST_LOGS / name).read_text().splitlines()
    return lines, {s.name: s for s in subcases.parse(lines)}


def _quick() -> list[str]:
    """The default set's pressure cells, read from the C table (ps_quick[])."""
    text = HEADER.read_text()
    return re.findall(r'"([^"]+)"', text.split("ps_quick[] = {", 1)[1].split("};", 1)[0])


def _failed(got: dict[str, subcases.Subcase]) -> dict[str, str]:
    return {n: s.message for n, s in got.items() if s.status is Status.FAIL}


ALL = ({f"pressure/swapfile-{fs}/{m}/shapes" for fs in ("vfat", "ext4") for m in ("anon", "thp", "shmem")}
       | {f"pressure/swapfile-{fs}/{m}/swapoff" for fs in ("vfat", "ext4") for m in ("anon", "shmem")}
       | {f"pressure/swap-discard/{m}/{k}" for m in ("anon", "thp", "shmem") for k in ("shapes", "swapoff")}
       | {"pressure/swap-discard/cluster", "pressure/kswapd", "pressure/memory-high", "pressure/oom/single",
          "pressure/oom/group"})


def test_the_default_pressure_cells_pass_each_with_its_premise_met() -> None:
    lines, got = _log("pin-matrix-pressure-baseline-6.12-tcg.log")
    assert sorted(got) == sorted(_quick()) and len(got) == 13 and set(got) <= ALL
    assert all(s.status is Status.PASS for s in got.values())
    # kswapd reclaimed the cell's own group (memory.stat) and the anonymous witness went out
    m = next(re.match(r"# pressure/kswapd: .*kswapd: pgscan \+(\d+) pgsteal \+(\d+) \(the group's \+(\d+) \+(\d+)\),"
                      r" pswpout \+\d+; witness: (\d+) of 64 anonymous", ln) for ln in lines
             if ln.startswith("# pressure/kswapd: node 0"))
    assert m and all(int(v) > 0 for v in m.groups())
    # memory.high: past the limit, reclaimed for it, brought back under it
    assert any(re.match(r"# pressure/memory-high: memory.peak \d+, memory.events high [1-9]\d*, pgsteal [1-9]", ln)
               for ln in lines)
    # the group's OOM kill took the child (SIGKILL: status 0x9) and its two peers at least
    kills = [int(m.group(1)) for ln in lines if (m := re.match(r"# pressure/oom/group: memory.events oom 1 oom_kill"
                                                               r" (\d+) oom_group_kill 1; the child: status 0x9", ln))]
    assert len(kills) == 1 and kills[0] >= 3
    # the swap targets: the slots read back on disk, discards completed where asked for
    assert any(re.match(r"# pressure/swap-discard/cluster: [1-9]\d* discard\(s\) completed after the THP's cluster"
                        r" was freed", ln) for ln in lines)
    assert any(re.match(r"# pressure/swap-discard/cluster: the THP in swap cluster (\d+), the shapes' first and last"
                        r" pages in (?!\1\b)\d+", ln) for ln in lines)
    # each page-out of private memory checked on disk: 3 rounds of each of the 5 default shapes
    # cells, once in each of the 2 swapoff cells of private memory, twice in swap-discard/cluster
    assert sum(bool(re.match(r"# pressure/\S+: 1[23] page\(s\) swapped out read back from their slots on", ln))
               for ln in lines) == 3 * 5 + 2 + 2
    assert "# pressure/swapfile-ext4: /run/pin-matrix/pswap.208, 2046 of 2048 pages usable as swap in 2 extent(s)," \
           " on /dev/loop0 (rotational 0 for the cells), with discard" in lines
    assert sum(bool(re.match(r"# pressure/swapfile-ext4/\S+: on .*; discards: 2 at swapon", ln)) for ln in lines) == 3


def test_every_pressure_cell_passes_on_a_healthy_kernel() -> None:
    _, got = _log("pin-matrix-pressure-all-baseline-6.12-tcg.log")
    assert set(got) == ALL and len(got) == 21
    assert all(s.status is Status.PASS for s in got.values())


def test_a_swap_file_extent_map_off_by_a_page_is_seen_only_on_disk() -> None:
    # swapfile-skip-header: generic_swapfile_activate() starts one page into the file; the data
    # round-trips through the wrong place, so only the vfat cells' on-disk check fails
    _, got = _log("pin-matrix-pressure-swapfile-skip-header-6.12-tcg.log")
    msg = "page 1 swapped out to offset 513: its slot on disk (page 534 of /dev/loop3) holds other bytes at byte 0"
    assert _failed(got) == {f"pressure/swapfile-vfat/{c}": msg for c in ("anon/shapes", "thp/shapes", "anon/swapoff")}
    assert len(got) == 3


def test_a_swapon_discard_of_the_header_fails_every_cell_that_turns_swap_on_with_discard() -> None:
    # discard-swap-header: discard_swap() discards swap page 0 too; the ext4 file's cells all fail
    # (swapon reads the header through the file's page cache, which still has it), the loop
    # device's first cell fails and the next two cannot swapon it any more
    _, got = _log("pin-matrix-pressure-discard-swap-header-6.12-tcg.log")
    ext4 = "swap page 0 on disk (page 2561 of /dev/loop0, the header's place) changed at byte 1014 after swapon with" \
           " discard"  # the signature's bytes: the area's page 0 starts 3 KiB into the file (1 KiB blocks)
    assert _failed(got) == {n: ext4 for n in _quick() if n.startswith("pressure/swapfile-ext4/")} | {
        "pressure/swap-discard/thp/shapes": "swap page 0 on disk (page 0 of /run/pinbench-pin-matrix-swap.img, the"
                                            " header's place) changed at byte 1024 after swapon with discard"}
    skipped = {n: s.message for n, s in got.items() if s.status is Status.SKIP}
    assert skipped == {n: "cannot make /dev/loop4 the only swap: swapon /dev/loop4: Invalid argument"
                       for n in ("pressure/swap-discard/anon/swapoff", "pressure/swap-discard/cluster")}


def test_an_oom_group_that_kills_only_one_task_fails_the_group_cell() -> None:
    _, got = _log("pin-matrix-pressure-oom-group-domain-skipped-6.12-tcg.log")
    failed = _failed(got)
    assert list(failed) == ["pressure/oom/group"] and got["pressure/oom/single"].status is Status.PASS
    assert re.fullmatch(r"peer \d+ of the group was still alive 2 s after the OOM kill \(memory.oom.group 1\)",
                        failed["pressure/oom/group"])


def test_memory_high_without_reclaim_fails_the_high_cell() -> None:
    _, got = _log("pin-matrix-pressure-reclaim-high-margin-6.12-tcg.log")
    assert list(_failed(got)) == ["pressure/memory-high"]
    assert "memory.events high is 0, memory.stat pgsteal 0: no reclaim for memory.high" in \
        got["pressure/memory-high"].message
