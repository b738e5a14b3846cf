"""JUnit XML for a run: the only module that imports junit_xml.

One testsuite per run (`--each`: per prefix); a testcase per stage (apply/NNNN, config, build, boot),
per workload, and per distinct kernel report, so CI shows each report as its
own failure with the report text as the failure output.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from bench.base.files import write_atomic
from bench.run.coverage import text as coverage_text
from bench.run.result import RunResult, Status


def to_suite(result: RunResult) -> TestSuite:
    cases = []
    for c in result.cases:
        tc = TestCase(
            name=c.name,
            classname=f"pinbench.{result.series}.{c.group}",
            elapsed_sec=round(c.secs, 3),
            stdout=c.output or None,
        )
        if c.status is Status.FAIL:
            tc.add_failure_info(message=c.message or "failed", output=c.output or None)
        elif c.status is Status.ERROR:
            tc.add_error_info(message=c.message or "error", output=c.output or None)
        elif c.status is Status.SKIP:
            tc.add_skipped_info(message=c.message or "skipped")
        cases.append(tc)
    props = {k: str(v) for k, v in result.facts.to_json().items() if v is not None and k != "coverage"}
    if (cov := result.facts.coverage) is not None:  # its headline and totals, not the whole dict
        props.update(coverage_text.junit_properties(dict(cov)))
    return TestSuite(f"pinbench.{result.series}", cases, id=result.run_id, properties=props)


def write(result: RunResult, path: Path) -> None:
    write_atomic(path, to_xml_report_string([to_suite(result)]))


def write_many(results: Sequence[RunResult], path: Path) -> None:
    """One testsuite per result in one file (`bench run --each`: a testsuite per patch)."""
    write_atomic(path, to_xml_report_string([to_suite(r) for r in results]))
