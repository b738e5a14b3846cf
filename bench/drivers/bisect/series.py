"""Series mode: binary search, in this process, over how many of the series' patches are applied."""

from __future__ import annotations

from bench.base.errors import UserError
from bench.drivers.bisect.bisection import Aborted, Bisection
from bench.drivers.bisect.journal import bad_step
from bench.drivers.bisect.model import BisectResult, Conclusion, Culprit, Options
from bench.drivers.bisect.search import max_builds, search
from bench.run.plan import Plan
from bench.run.printer import Printer
from bench.run.series import Patch


def bisect_series(plan: Plan, printer: Printer, opts: Options) -> BisectResult:
    """The first patch of plan.series whose kernel reproduces the tip's failure."""
    patches = plan.series.patches
    n = len(patches)
    if n == 0:
        raise UserError(f"{plan.series.source}: series {plan.series.name} has no patches to bisect")
    b = Bisection(plan, printer, opts, "series")
    b.info["patches"] = n
    b.journal.note(f"bisect {plan.series.name}: {n} patches, repeat {opts.repeat}")
    b.say(f"{n} patches of {plan.series.name} in {b.dir} (at most {max_builds(n)} steps"
          f"{' + the base check' if opts.check else ''} without skips)")

    with b.sweep.stopping(b.stopped):
        try:
            if ended := b.check_ends((plan.with_patches(n), f"tip {n}/{n}"), (plan.with_patches(0), f"base 0/{n}")):
                return ended
            good, bad, _ = search(0, n, lambda k: b.step(plan.with_patches(k), f"{k}/{n}").verdict)
            if bad == 1 and (ended := b.good_end_fails((plan.with_patches(0), f"base 0/{n}"))):
                return ended
        except Aborted as e:
            return b.aborted(e)
    if bad - good == 1:
        return b.finish(Conclusion.FOUND, f"first bad patch: {patches[bad - 1].name}",
                        _patch_culprit(b, patches[bad - 1], bad))
    maybe = [p.name for p in patches[good:bad]]
    return b.finish(Conclusion.AMBIGUOUS,
                    f"only untestable patches left: the first bad is one of {', '.join(maybe)}",
                    candidates=maybe)


def _patch_culprit(b: Bisection, patch: Patch, k: int) -> Culprit:
    step = bad_step(b.journal.steps(), lambda s: s.patches == k)
    return Culprit(patch.name, patch.subject, step.commit if step else "", k,
                   step.evidence if step else ())
