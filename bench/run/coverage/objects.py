"""Which objects a coverage run profiles, and the make variables that profile only them.

kbuild (scripts/Makefile.lib, 6.12) adds CFLAGS_GCOV to an object when
`$(GCOV_PROFILE_$(target-stem).o)$(GCOV_PROFILE)...` does not start with "n". Given on the make
command line, `GCOV_PROFILE_gup.o=y` would match every gup.o of the tree, and would beat a
Makefile's own `GCOV_PROFILE_x.o := n` and the rule that only vmlinux/module objects are
profiled (boot, vdso, realmode code cannot link the gcov runtime). So each variable's value is
scoped: y only when $@ is one of the asked paths, the object is a kernel object
($(is-kernel-object)), and its directory did not say `GCOV_PROFILE := n`; a Makefile line
`GCOV_PROFILE_<stem>.o := n` is read here and its object left out, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bench.base import files

C_SUFFIXES = (".c",)


@dataclass(frozen=True)
class Instrument:
    objects: tuple[str, ...]  # build-relative objects asked to be profiled: mm/gup.o
    refused: tuple[tuple[str, str], ...]  # (object, why it is not profiled)

    @property
    def key(self) -> str:
        """What the slot records as profiled (the make variables themselves, so a change of how
        they are written counts too): a build with another key is not reused."""
        return " ".join(self.make_vars())

    def make_vars(self) -> tuple[str, ...]:
        """GCOV_PROFILE_<stem>.o=<scoped value> for every stem kbuild may compute (the basename,
        and dir/basename for an object a parent Makefile lists as dir/x.o)."""
        by_stem: dict[str, list[str]] = {}
        for obj in self.objects:
            parts = PurePosixPath(obj).with_suffix("").parts
            for k in (1, 2):
                if len(parts) >= k:
                    by_stem.setdefault("/".join(parts[-k:]), []).append(obj)
        return tuple(f"GCOV_PROFILE_{stem}.o=" + scoped(objs) for stem, objs in sorted(by_stem.items()))


def scoped(objs: Iterable[str]) -> str:
    paths = " ".join(sorted(set(objs)))
    return f"$(if $(filter {paths},$@),$(if $(is-kernel-object),$(if $(filter n,$(GCOV_PROFILE)),n,y),n))"


def object_of(path: str) -> str:
    return str(PurePosixPath(path).with_suffix(".o"))


_DIR_OFF = re.compile(r"^\s*GCOV_PROFILE\s*:?=\s*n\b", re.M)


def _file_off(stem: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*GCOV_PROFILE_{re.escape(stem)}\.o\s*:?=\s*n\b", re.M)


def refusal(src: Path, obj: str) -> str:
    """Why kbuild's own Makefile keeps gcov off this object ("" if it does not)."""
    p = PurePosixPath(obj)
    for name in ("Makefile", "Kbuild"):
        mk = src / p.parent / name
        text = files.read_tree(mk)  # the series may have made it a link to /dev/zero
        if text is None:
            continue
        where = f"{p.parent / name}"
        if _file_off(p.stem).search(text):
            return f"GCOV_PROFILE_{p.stem}.o := n in {where}"
        if _DIR_OFF.search(text):
            return f"GCOV_PROFILE := n in {where}"
    return ""


def choose(src: Path, touched: Iterable[str], extra: Iterable[str]) -> Instrument:
    """The touched .c files that exist in src, as objects, plus the extra objects asked for;
    those a Makefile excludes are refused with the reason."""
    wanted = [object_of(t) for t in sorted(set(touched)) if t.endswith(C_SUFFIXES) and (src / t).is_file()]
    wanted += [e for e in extra if e not in wanted]
    ok: list[str] = []
    refused: list[tuple[str, str]] = []
    for obj in wanted:
        if why := refusal(src, obj):
            refused.append((obj, why))
        else:
            ok.append(obj)
    return Instrument(tuple(ok), tuple(refused))
