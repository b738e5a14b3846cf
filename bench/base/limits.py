"""The bench's limits on outside input, as data in one place (docs/limits.md is checked against it).

Every reader of a file, flag or stream a user or a guest controls stays inside these; over a
limit is a one-line UserError naming the input (file:line) and the limit, found in well under a
second, never a hang, a crash or a screenful. Each is far above what real input needs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    # The largest series.yaml / matrix / known-issues.yaml we have is ~3 kB; 256 KiB is 80 times that and parses in well under a second.
    yaml_bytes: int = 256 * 1024
    # No YAML file of the project uses anchors/aliases; refusing them outright stops alias bombs
    # (a few hundred bytes expanding to billions of nodes) and recursive aliases.
    yaml_aliases: int = 0
    # Nesting depth of YAML collections: ours are 4 deep at most (matrix overrides);
    # PyYAML's constructor recurses, so 5000 levels would crash Python's stack.
    yaml_depth: int = 32
    # Digits of an integer in any input (YAML, --param, JSON); Python refuses int() over 4300.
    int_digits: int = 30
    # Nesting of JSON the bench reads back (night.json, state.json, summary.json, request.json):
    # ours are 5 deep; json's decoder recurses, so 100000 '[' would crash it.
    json_depth: int = 32
    # Bytes of a JSON file the bench reads back (summary.json, night.json, state.json,
    # request.json): ours are under 1 MB; a run's summary.json holds its reports' text, so a
    # console at console_chars must fit twice. A shard or a folder beside a night may hold anything.
    json_bytes: int = 512 * 1024 * 1024
    # Bytes of one file a user gives (a patch, an mbox, a series file, series.yaml, a matrix,
    # known-issues.yaml, a fragment): mm's largest series are a few MB; a sparse file or an image
    # given by mistake must not be read into memory whole (20 GB: a MemoryError, an internal error).
    input_bytes: int = 256 * 1024 * 1024
    # Patches in one series; mm's largest series are a few hundred patches (folios: ~100).
    patches: int = 5000
    # Characters of one console line kept by the live reader and the scanner; the rest is cut
    # (said in the line). printk lines are at most 1024 bytes (LOG_LINE_MAX).
    console_line: int = 64 * 1024
    # Characters of one console line the report scanner's patterns look at (the rest is cut, the
    # cut said in the line): printk's longest record is 1024 characters. Some of the patterns
    # (syzkaller's) take time quadratic in a line's length: a 64K line took 10 s.
    report_line: int = 2048
    # Characters of console one boot may write; past it the VM is stopped as a printk storm.
    # The largest real console seen: 9.8 MB (2086 VM_WARNs of a catalogue bug, 2026-12-05).
    console_chars: int = 256 * 1024 * 1024
    # Bytes read of a snapshot file the guest wrote (pins, taint, vmstat: ~10 kB); a workload's
    # log is read from its end, as much as is shown. The guest controls these files.
    guest_file: int = 1024 * 1024
    # Bytes read of a workload's page_owner records (guests/pages.sh keeps 5000 records of
    # ~700 bytes: ~3.5 MB at most; measured 2026-12-05: 72-382 kB).
    guest_page_owner: int = 16 * 1024 * 1024
    # Bytes read of a file of the patched kernel tree (coverage's source lines, a Makefile): the
    # series writes these, and may make one a symlink to /dev/zero or a host file. The largest
    # source file of 6.12 is 24 MB (an amdgpu register header).
    tree_file: int = 64 * 1024 * 1024
    # Characters of one error message, quoted input included; error lines are one line.
    error_chars: int = 1000
    # Characters of a piece of input quoted in an error (a name, a value, a subject).
    quoted_chars: int = 80
    # Cases one workload may report of its own (CASE lines, bench/run/subcases.py): pin-matrix
    # prints ~330; a runaway loop printing CASE lines must not make a JUnit file of millions.
    subcases: int = 2000
    # Unbounded repeats (`*`, `+`, `{n,}`) in one title regex a user writes: a search tries n^k
    # ways on a title of n characters (120 at most): 3 took 0.05 s, 4 up to 3 s, 5 30 s a title.
    # Ours use 2 at most (`^BUG: .* in \\w+$`).
    regex_repeats: int = 3
    # Seconds `bench scan` waits on a pipe for its first byte or its writer's end: a named FIFO
    # nobody opens for writing would otherwise be waited on for ever.
    pipe_wait_s: int = 30
    # Seconds a run waits for a lock file another bench process holds for a short job (unpacking
    # the kernel tarball, a few minutes; choosing a work slot, a moment): a holder stopped with
    # SIGSTOP or hung on a dead mount otherwise hung every later run with it, silently.
    lock_wait_s: int = 3600

    def rows(self) -> list[tuple[str, int]]:
        """(name, value) of every limit, in declaration order (docs/limits.md's table)."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


LIMITS = Limits()
