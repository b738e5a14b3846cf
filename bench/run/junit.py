"""JUnit XML for a run: the only module that imports junit_xml.

One testsuite per run (`--each`: per prefix); a testcase per stage (apply/NNNN, config, build, boot),
per workload, and per distinct kernel report, so CI shows each report as its
own failure with the report text as the failure output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from bench.base.files import write_atomic
from bench.run.coverage import text as coverage_text
from bench.run.result import RunResult, Status

# Characters XML 1.0 cannot hold that junit_xml does not clean: it raised ExpatError (no
# junit.xml) for U+FFFE or U+FFFF, valid UTF-8 a guest's log or a process name may hold, and for a
# lone surrogate. The control characters it removes itself.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def to_suite(result: RunResult) -> TestSuite:
    cases = []
    series = _xml(result.series)
    for c in result.cases:
        output = _xml(c.output) or None
        tc = TestCase(
            name=_xml(c.name),
            classname=f"pinbench.{series}.{c.group}",
            elapsed_sec=round(c.secs, 3),
            stdout=output,
        )
        if c.status is Status.FAIL:
            tc.add_failure_info(message=_xml(c.message) or "failed", output=output)
        elif c.status is Status.ERROR:
            tc.add_error_info(message=_xml(c.message) or "error", output=output)
        elif c.status is Status.SKIP:
            tc.add_skipped_info(message=_xml(c.message) or "skipped")
        cases.append(tc)
    props = {k: _xml(str(v)) for k, v in result.facts.to_json().items() if v is not None and k != "coverage"}
    if (cov := result.facts.coverage) is not None:  # its headline and totals, not the whole dict
        props.update({k: _xml(str(v)) for k, v in coverage_text.junit_properties(dict(cov)).items()})
    return TestSuite(f"pinbench.{series}", cases, id=_xml(result.run_id), properties=props)


def write(result: RunResult, path: Path) -> None:
    write_atomic(path, to_xml_report_string([to_suite(result)]))


def write_many(results: Sequence[RunResult], path: Path) -> None:
    """One testsuite per result in one file (`bench run --each`: a testsuite per patch)."""
    write_atomic(path, to_xml_report_string([to_suite(r) for r in results]))
