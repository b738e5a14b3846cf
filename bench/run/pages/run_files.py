"""At the end of every run, whatever its verdict: reproducer.sh (with patches/ and guests/),
report.txt and index.html in its results folder, each written atomically. index.html comes
last, so it links the others.
"""

from __future__ import annotations

from bench.base import rundir
from bench.base.files import write_atomic
from bench.run.pages import mail, reproducer, run_page
from bench.run.pages.facts import Context
from bench.run.plan import Plan
from bench.run.result import RunResult


def context(plan: Plan) -> Context:
    return Context(
        series=plan.series.name,
        patches=tuple((reproducer.patch_file_name(p), p.subject) for p in plan.series.patches),
        fragments=tuple(f.name for f in plan.fragments),
        workloads=tuple(w.name for w in plan.workloads),
        tree=str(plan.tree), memory=plan.memory, cpus=plan.cpus,
    )


def write(result: RunResult, plan: Plan) -> None:
    run_dir = result.results_dir
    reproducer.write(result, plan)
    ctx, data = context(plan), result.to_json()
    write_atomic(run_dir / rundir.REPORT, mail.report(ctx, data, run_dir))
    write_atomic(run_dir / rundir.INDEX, run_page.render(ctx, data, run_dir))
