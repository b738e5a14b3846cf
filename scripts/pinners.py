#!/usr/bin/env python3
"""Who pins or borrows user pages in a kernel tree: every call site of the GUP/pin API.

    scripts/pinners.py [TREE] [--config .config] [--format tsv|md|groups]

For each call of an API in API (mm.h, uio.h, bio.h and a few wrappers that hand user pages to
drivers) it prints the file, line, enclosing C function, the API, the Kconfig symbols that build
the file (from the Makefiles, outermost first; "?" when unknown) plus the `#if CONFIG_` blocks
around the call and, with --config, whether the call is built. Stages: clean() blanks a C
file's comments and strings, calls() finds the call sites (data: CallSite), makefile_rules()
and Makefiles.chain() find the symbols, scan() walks the tree (data: Row), render_*() print.
Best effort by design: a brace-counting parser, no macro expansion, only `CONFIG_` conditions of
`#if`/`#ifdef`; docs/entrypoints.md says what it leaves out.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

DEFAULT_TREE = Path.home() / ".cache/pinbench/linux-source-6.12"
SKIP_DIRS = {"tools", "Documentation", "scripts", "usr", ".git"}  # user space or not kernel code


@dataclass(frozen=True)
class Api:
    name: str
    kind: str  # pin (FOLL_PIN), ref (FOLL_GET), copy (GUP + copy + put), wrapper, mirror (no reference)
    header: str


API: tuple[Api, ...] = (
    Api("pin_user_pages", "pin", "include/linux/mm.h"),
    Api("pin_user_pages_fast", "pin", "include/linux/mm.h"),
    Api("pin_user_pages_remote", "pin", "include/linux/mm.h"),
    Api("pin_user_pages_unlocked", "pin", "include/linux/mm.h"),
    Api("memfd_pin_folios", "pin", "include/linux/mm.h"),
    Api("folio_add_pin", "pin", "include/linux/mm.h"),
    Api("get_user_pages", "ref", "include/linux/mm.h"),
    Api("get_user_pages_fast", "ref", "include/linux/mm.h"),
    Api("get_user_pages_remote", "ref", "include/linux/mm.h"),
    Api("get_user_pages_unlocked", "ref", "include/linux/mm.h"),
    Api("get_user_page_vma_remote", "ref", "include/linux/mm.h"),
    Api("get_user_pages_fast_only", "ref", "include/linux/mm.h"),
    Api("get_user_page_fast_only", "ref", "include/linux/mm.h"),
    Api("get_dump_page", "ref", "include/linux/mm.h"),
    Api("access_process_vm", "copy", "include/linux/mm.h"),
    Api("access_remote_vm", "copy", "include/linux/mm.h"),
    Api("ptrace_access_vm", "copy", "include/linux/ptrace.h"),
    # pin or ref as the iterator decides (iov_iter_extract_will_pin()): pins for user memory
    Api("iov_iter_extract_pages", "pin", "include/linux/uio.h"),
    Api("iov_iter_get_pages2", "ref", "include/linux/uio.h"),
    Api("iov_iter_get_pages_alloc2", "ref", "include/linux/uio.h"),
    Api("bio_iov_iter_get_pages", "wrapper", "include/linux/bio.h"),
    Api("ib_umem_get", "wrapper", "include/rdma/ib_umem.h"),
    Api("ib_umem_odp_get", "wrapper", "include/rdma/ib_umem_odp.h"),
    Api("get_vaddr_frames", "wrapper", "include/media/frame_vector.h"),
    Api("iommufd_access_pin_pages", "wrapper", "include/linux/iommufd.h"),
    Api("hmm_range_fault", "mirror", "include/linux/hmm.h"),
)

API_NAMES = tuple(api.name for api in API)

# Identifiers that take parentheses before a function's name (attributes), or keywords.
NOT_NAMES = {
    "__attribute__", "__printf", "__scanf", "__acquires", "__releases", "__must_hold",
    "__section", "__aligned", "__alloc_size", "__diag_ignore", "__no_sanitize_address",
    "__cond_acquires", "__weak", "if", "while", "for", "switch", "return", "sizeof", "typeof",
    "__typeof__", "defined", "__has_attribute", "__counted_by", "__free",
}


@dataclass(frozen=True)
class CallSite:
    path: str  # relative to the tree
    line: int
    function: str  # the enclosing function, "(file scope)" or "macro NAME"
    api: str
    cpp: tuple[str, ...] = ()  # CONFIG_ symbols of the #if blocks around it ("!CONFIG_X": off)


@dataclass(frozen=True)
class Cleaned:
    """A C file's lines with comments, strings and `#if 0` blocks blanked (same line count),
    preprocessor directives moved out of `code` into `directives` (line index, text), and the
    CONFIG_ symbols of the #if blocks around each line."""

    code: tuple[str, ...]
    conds: tuple[tuple[str, ...], ...]  # per line: the #if conditions around it
    directives: tuple[tuple[int, str], ...]


def clean(lines: Sequence[str]) -> Cleaned:
    """Blank comments, string and char literals; set directives apart; drop `#if 0` blocks."""
    out: list[str] = []
    state = ""  # "", "/*"
    for raw in lines:
        line = raw.rstrip("\n")
        buf: list[str] = []
        i = 0
        while i < len(line):
            c = line[i]
            if state == "/*":
                if line.startswith("*/", i):
                    state = ""
                    buf.append("  ")
                    i += 2
                else:
                    buf.append(" ")
                    i += 1
            elif line.startswith("/*", i):
                state = "/*"
                buf.append("  ")
                i += 2
            elif line.startswith("//", i):
                buf.append(" " * (len(line) - i))
                break
            elif c in "\"'":
                j = i + 1
                while j < len(line) and line[j] != c:
                    j += 2 if line[j] == "\\" else 1
                buf.append(c + " " * (min(j, len(line)) - i - 1) + (c if j < len(line) else ""))
                i = j + 1
            else:
                buf.append(c)
                i += 1
        out.append("".join(buf))
    code: list[str] = []
    conds: list[tuple[str, ...]] = []
    directives: list[tuple[int, str]] = []
    frames: list[tuple[str, ...] | None] = []  # per open #if: its branch's conditions, None: dead (#if 0)
    opened: list[tuple[str, ...]] = []  # per open #if: the conditions it opened with
    continued = False
    for n, line in enumerate(out):
        stripped = line.strip()
        dead = None in frames
        if continued or stripped.startswith("#"):
            is_start = not continued
            continued = line.rstrip().endswith("\\")
            code.append("")
            conds.append(())
            if not is_start:
                if not dead:
                    directives.append((n, line))
                continue
            word = stripped.lstrip("#").strip()
            if m := re.match(r"(ifdef|ifndef|if)\b\s*(.*)", word):
                frame = cpp_condition(m.group(1), m.group(2))
                frames.append(frame)
                opened.append(frame or ())
            elif re.match(r"(else|elif)\b", word) and frames:
                first = opened[-1]
                # #else of a single condition is its negation; other branches name nothing
                frames[-1] = ((first[0][1:] if first[0].startswith("!") else "!" + first[0],)
                              if word.startswith("else") and len(first) == 1 else ())
            elif re.match(r"endif\b", word) and frames:
                frames.pop()
                opened.pop()
            elif not dead:
                directives.append((n, line))
            continue
        code.append("" if dead else line)
        conds.append(tuple(c for f in frames if f for c in f))
    return Cleaned(tuple(code), tuple(conds), tuple(directives))


def cpp_condition(kind: str, expr: str) -> tuple[str, ...] | None:
    """The CONFIG_ symbols an #if/#ifdef/#ifndef requires ("!CONFIG_X": off); None for `#if 0`.
    Terms joined by || and anything not about a CONFIG_ symbol require nothing we can name."""
    expr = expr.strip()
    if kind == "ifdef":
        return (expr.split()[0],) if expr.startswith("CONFIG_") else ()
    if kind == "ifndef":
        return ("!" + expr.split()[0],) if expr.startswith("CONFIG_") else ()
    if re.fullmatch(r"0", expr):
        return None
    if "||" in expr:
        return ()
    found: list[str] = []
    for term in expr.split("&&"):
        m = re.fullmatch(r"\s*(!?)\s*(?:(?:defined|IS_ENABLED|IS_BUILTIN|IS_REACHABLE)\s*\(?\s*)?(CONFIG_\w+)\s*\)?\s*", term)
        if m:
            found.append(m.group(1) + m.group(2))
    return tuple(found)


def function_name(header: str) -> str | None:
    """The name a function definition's header declares, None for initializers and types."""
    depth = 0
    first_group: list[tuple[str, str]] = []  # (identifier before "(", text inside)
    start = 0
    ident = ""
    for i, c in enumerate(header):
        if c == "(":
            if depth == 0:
                m = re.search(r"([A-Za-z_]\w*)\s*$", header[:i])
                ident, start = (m.group(1) if m else ""), i + 1
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                first_group.append((ident, header[start:i]))
        elif c == "=" and depth == 0:
            return None
    for name, inside in first_group:
        if not name or name in NOT_NAMES:
            continue
        m = re.fullmatch(r"(COMPAT_)?SYSCALL_DEFINE\d", name)
        if m:
            return ("compat_sys_" if m.group(1) else "sys_") + inside.split(",")[0].strip()
        if re.fullmatch(r"BPF_CALL_\d", name):  # BPF_CALL_5(bpf_foo, ...) defines bpf_foo
            return inside.split(",")[0].strip()
        return name
    return None


def calls(lines: Sequence[str], path: str = "", apis: Iterable[str] = API_NAMES) -> list[CallSite]:
    """Every call of one of `apis` in a C file's lines, with its enclosing function.

    A call is NAME( inside a function body (brace depth > 0), not after `.` or `->`; at file
    scope the same text is a prototype or a definition. Calls in a macro's body count, named
    "macro NAME"."""
    names = sorted(set(apis), key=len, reverse=True)
    pattern = re.compile(r"(?<![\w.>])(" + "|".join(map(re.escape, names)) + r")\s*\(")
    cleaned = clean(lines)
    found: list[CallSite] = []
    depth = 0
    header: list[str] = []
    current: str | None = None
    for n, line in enumerate(cleaned.code):
        col = 0
        for m in re.finditer(r"[{};]", line):
            found += _calls_in(pattern, line[col:m.start()], depth, current, path, n, cleaned.conds[n])
            if depth == 0:
                header.append(line[col:m.start()])
            col = m.end()
            if m.group() == "{":
                if depth == 0:
                    current = function_name(" ".join(header))
                    header = []
                depth += 1
            elif m.group() == "}":
                depth = max(depth - 1, 0)  # unbalanced #if/#else branches: resynchronise
                if depth == 0:
                    current, header = None, []
            elif depth == 0:
                header = []
        found += _calls_in(pattern, line[col:], depth, current, path, n, cleaned.conds[n])
        if depth == 0:
            header.append(line[col:])
    macro = ""  # the #define a continuation line belongs to
    for n, text in cleaned.directives:
        body = text
        if text.lstrip().startswith("#"):
            d = re.match(r"\s*#\s*define\s+(\w+)", text)
            macro, body = (d.group(1), text[d.end():]) if d else ("", "")
        if macro:
            found += [CallSite(path, n + 1, f"macro {macro}", c.group(1)) for c in pattern.finditer(body)]
    return sorted(found, key=lambda s: s.line)


def _calls_in(pattern: re.Pattern[str], text: str, depth: int, current: str | None,
              path: str, n: int, cpp: tuple[str, ...]) -> list[CallSite]:
    if depth == 0:
        return []
    return [CallSite(path, n + 1, current or "(file scope)", m.group(1), cpp) for m in pattern.finditer(text)]


# ---- Makefiles -------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    target: str  # "obj" (obj-/lib-/core-...), or a composite object's name ("rdma_rxe" of rdma_rxe-y)
    conds: tuple[str, ...]  # CONFIG_ symbols on the left-hand side and in enclosing ifdefs
    items: tuple[str, ...]  # foo.o, sub/foo.o or subdir/, as written after variable expansion


OBJ_TARGETS = {"obj", "lib", "core", "drivers", "libs", "net", "virt"}
NOT_TARGETS = {"ccflags", "asflags", "ldflags", "subdir", "always", "hostprogs", "extra", "targets",
               "CFLAGS", "AFLAGS", "KASAN_SANITIZE", "KCOV_INSTRUMENT", "UBSAN_SANITIZE", "clean", "userprogs"}


def joined_lines(lines: Iterable[str]) -> list[str]:
    """Makefile lines with comments dropped and `\\` continuations joined."""
    joined: list[str] = []
    acc = ""
    for raw in lines:
        line = re.sub(r"(?<!\\)#.*", "", raw).rstrip()
        if line.endswith("\\"):
            acc += line[:-1] + " "
            continue
        joined.append(acc + line)
        acc = ""
    if acc:
        joined.append(acc)
    return joined


def makefile_rules(lines: Sequence[str], variables: dict[str, str] | None = None) -> list[Rule]:
    """The `x-$(CONFIG_Y) += a.o b/` assignments of a Makefile or Kbuild file (includes already
    inlined). Plain variables (`KVM ?= ../../../virt/kvm`, `FILES := a.o`) are expanded in the
    items; `$(name-y)` becomes `name.o`, the composite it names."""
    values = dict(variables or {})
    raw_rules: list[tuple[str, tuple[str, ...], str]] = []
    stack: list[tuple[str, ...]] = []
    for line in joined_lines(lines):
        word = line.strip()
        if re.match(r"if(n?eq|n?def)\b", word):
            negated = re.match(r"ifndef|ifeq\s*\(\s*\$\(CONFIG_\w+\)\s*,\s*\)|ifneq\s*\(\s*\$\(CONFIG_\w+\)\s*,\s*y\s*\)", word)
            stack.append(() if negated else tuple(re.findall(r"CONFIG_\w+", word)))
        elif word.startswith("else"):
            if stack:
                stack[-1] = ()  # the other branch: no symbol we can name
        elif word.startswith("endif"):
            if stack:
                stack.pop()
        elif m := re.match(r"([\w.-]+?)-(\$\([^)]*\)+|y|objs|m)\s*[:+?]?=\s*(.*)", word):
            target = "obj" if m.group(1) in OBJ_TARGETS else m.group(1)
            if target not in NOT_TARGETS:
                conds = tuple(s for frame in stack for s in frame) + tuple(re.findall(r"CONFIG_\w+", m.group(2)))
                raw_rules.append((target, conds, m.group(3)))
        elif m := re.match(r"([A-Za-z_]\w*)\s*([:?+]?=)\s*(.*)", word):
            name, op, value = m.groups()
            if op == "+=":
                values[name] = (values.get(name, "") + " " + value).strip()
            elif op != "?=" or name not in values:
                values[name] = value

    def expand(text: str, depth: int = 0) -> str:
        text = re.sub(r"\$\((\w+)-y\)", r"\1.o", text)
        if depth > 5:
            return text
        return re.sub(r"\$\((\w+)\)", lambda v: expand(values.get(v.group(1), ""), depth + 1), text)

    return [Rule(t, c, tuple(w for w in expand(items).split() if w.endswith((".o", "/"))))
            for t, c, items in raw_rules]


class Makefiles:
    """Every Makefile/Kbuild of a tree, and the chain of symbols that builds a file."""

    def __init__(self, tree: Path, arch: str = "x86") -> None:
        self.tree = tree
        self.arch = arch
        # normalized item ("virt/kvm/kvm_main.o", "drivers/infiniband/") -> (Makefile's dir, rule)
        self.index: dict[str, list[tuple[str, Rule]]] = {}
        for root, dirs, files in os.walk(tree):
            rel = Path(root).relative_to(tree)
            if rel.parts and rel.parts[0] in SKIP_DIRS - {"usr"}:
                dirs[:] = []
                continue
            for name in ("Makefile", "Kbuild"):
                if name in files:
                    self._add(rel, self._inlined(Path(root) / name, rel))

    def _inlined(self, path: Path, rel: Path, depth: int = 0) -> list[str]:
        """A Makefile's lines with `include $(src)/x` and `include $(srctree)/x` inlined."""
        out: list[str] = []
        for line in path.read_text(errors="replace").splitlines():
            m = re.match(r"\s*-?include\s+\$\((src|srctree)\)/(\S+)\s*$", line)
            if m and depth < 4:
                inc = (self.tree / rel if m.group(1) == "src" else self.tree) / m.group(2)
                if inc.is_file():
                    out += self._inlined(inc, rel, depth + 1)
                continue
            out.append(line)
        return out

    def _add(self, rel: Path, lines: list[str]) -> None:
        for rule in makefile_rules(lines, {"SRCARCH": self.arch, "src": "", "obj": ""}):
            for item in rule.items:
                norm = os.path.normpath(rel / item.lstrip("/")) + ("/" if item.endswith("/") else "")
                self.index.setdefault(norm, []).append((str(rel), rule))

    def _pick(self, item: str) -> tuple[str, Rule] | None:
        found = self.index.get(item, [])
        # Makefile.kvm is included by every arch's kvm/Makefile: this arch's, else any
        mine = [c for c in found if not c[0].startswith("arch/") or c[0].startswith(f"arch/{self.arch}/")]
        return (mine or found)[0] if found else None

    def chain(self, relpath: str) -> tuple[str, ...]:
        """Symbols, outermost first, that build `relpath`: () for always, ("header",) for a
        header (built wherever it is included), "?" for a link no Makefile names."""
        if relpath.endswith(".h"):
            return ("header",)
        return tuple(dict.fromkeys(self._chain(str(Path(relpath).with_suffix(".o")), 0)))

    def _chain(self, item: str, depth: int) -> list[str]:
        if re.fullmatch(r"[^/]+/|arch/[^/]+/", item) and item not in self.index:
            return []  # a top-level dir the top Makefile adds by a variable (lib/), or arch/<arch>/
        picked = self._pick(item)
        if picked is None or depth > 20:
            return ["?"]
        where, rule = picked
        if rule.target == "obj":
            outer = [] if where == "." else self._chain(where + "/", depth + 1)
        else:
            outer = self._chain(os.path.normpath(Path(where) / (rule.target + ".o")), depth + 1)
        return outer + list(rule.conds)


def parse_config(lines: Iterable[str]) -> dict[str, str]:
    """CONFIG_X=value lines of a .config ("is not set" lines are simply absent)."""
    values: dict[str, str] = {}
    for line in lines:
        m = re.match(r"(CONFIG_\w+)=(.*)", line.strip())
        if m:
            values[m.group(1)] = m.group(2)
    return values


def state(chain: Sequence[str], cpp: Sequence[str], path: str, config: dict[str, str], arch: str = "x86") -> str:
    """y, m or n for a call site under `config` (the file's chain, then the #ifs around the call);
    ? when a link is unknown and nothing known is off."""
    parts = Path(path).parts
    if len(parts) > 1 and parts[0] == "arch" and parts[1] != arch:
        return "n"
    def on(symbol: str) -> bool:
        return config.get(symbol, "n") in ("y", "m")

    if any(on(c.lstrip("!")) == c.startswith("!") for c in cpp):
        return "n"
    if not all(on(s) for s in chain if s.startswith("CONFIG_")):
        return "n"
    if "?" in chain or "header" in chain:
        return "?"
    return "m" if any(config.get(s) == "m" for s in (*chain, *cpp)) else "y"


# ---- the tree --------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    site: CallSite
    chain: tuple[str, ...]
    on: str  # y, m, n, ? ("" without a config)


def sources(tree: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(tree):
        rel = Path(root).relative_to(tree)
        if rel.parts and rel.parts[0] in SKIP_DIRS or ".git" in rel.parts:
            dirs[:] = []
            continue
        dirs.sort()
        found += [Path(root) / f for f in sorted(files) if f.endswith((".c", ".h"))]
    return found


def scan(tree: Path, config: dict[str, str] | None = None) -> list[Row]:
    names = [a.name for a in API]
    quick = re.compile(r"\b(" + "|".join(names) + r")\b")
    makefiles = Makefiles(tree)
    rows: list[Row] = []
    for path in sources(tree):
        text = path.read_text(errors="replace")
        if not quick.search(text):
            continue
        rel = str(path.relative_to(tree))
        for site in calls(text.split("\n"), rel, names):  # not splitlines(): ^L is no line break to grep
            chain = makefiles.chain(rel)
            rows.append(Row(site, chain, state(chain, site.cpp, rel, config) if config is not None else ""))
    return rows


def group_of(path: str) -> str:
    """The subsystem a file belongs to: two path levels (three under drivers/ and arch/)."""
    parts = Path(path).parts[:-1]
    depth = 3 if parts and parts[0] in ("drivers", "arch") else 2
    return "/".join(parts[:depth]) or "."


def chain_text(chain: Sequence[str], cpp: Sequence[str] = ()) -> str:
    """`BLOCK FS_IOMAP`, `(always)`, plus `#if MEMORY_FAILURE` for the #ifs around the call."""
    text = " ".join(s.removeprefix("CONFIG_") for s in chain) or "(always)"
    return text + ("" if not cpp else " #if " + " ".join(c.replace("CONFIG_", "") for c in cpp))


def render_tsv(rows: Sequence[Row]) -> list[str]:
    out = ["path\tline\tfunction\tapi\tkind\tkconfig\ton"]
    kinds = {a.name: a.kind for a in API}
    for r in rows:
        s = r.site
        out.append(f"{s.path}\t{s.line}\t{s.function}\t{s.api}\t{kinds[s.api]}\t{chain_text(r.chain, r.site.cpp)}\t{r.on}")
    return out


def render_md(rows: Sequence[Row]) -> list[str]:
    out = ["| file:line | function | API | Kconfig | on |", "|---|---|---|---|---|"]
    for r in rows:
        s = r.site
        out.append(f"| {s.path}:{s.line} | `{s.function}` | `{s.api}` | {chain_text(r.chain, r.site.cpp)} | {r.on} |")
    return out


def render_groups(rows: Sequence[Row]) -> list[str]:
    """One line a subsystem: call sites, how many are built by the config, functions and APIs."""
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(group_of(r.site.path), []).append(r)
    out = ["group\tsites\ton\tfunctions (api)"]
    for name in sorted(groups):
        rs = groups[name]
        on = sum(r.on in ("y", "m") for r in rs)
        funcs = dict.fromkeys(f"{r.site.function}({r.site.api})" for r in rs)
        out.append(f"{name}\t{len(rs)}\t{on}\t{' '.join(funcs)}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("tree", nargs="?", type=Path, default=DEFAULT_TREE)
    parser.add_argument("--config", type=Path, help="a .config: say whether each site is built")
    parser.add_argument("--format", choices=("tsv", "md", "groups"), default="tsv")
    args = parser.parse_args(argv)
    if not (args.tree / "mm").is_dir():
        print(f"pinners: {args.tree}: not a kernel tree (no mm/)", file=sys.stderr)
        return 2
    config = None
    if args.config:
        try:
            config = parse_config(args.config.read_text().splitlines())
        except OSError as e:
            print(f"pinners: {args.config}: {e.strerror}", file=sys.stderr)
            return 2
    rows = scan(args.tree, config)
    render = {"tsv": render_tsv, "md": render_md, "groups": render_groups}[args.format]
    try:
        print("\n".join(render(rows)))
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
