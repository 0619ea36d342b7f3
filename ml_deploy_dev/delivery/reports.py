"""CodeBuild test reports: the suite's JUnit file split into reports CodeBuild keeps whole, and the
buildspec's `reports:` collected the way CodeBuild reads them (for the local run).

A CodeBuild test report holds at most 500 test cases (test-report.html); the suite has more, so
`buildspec.yml` splits `reports/junit.xml` into shards of at most 500 cases, one per report group.
Run there as `python -m ml_deploy_dev.delivery.reports split reports/junit.xml reports/junit --shards N`
(standard library only, so it runs before and whatever the installed packages).
"""

from __future__ import annotations

import argparse
import glob
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# https://docs.aws.amazon.com/codebuild/latest/userguide/test-report.html: "A test report can have
# a maximum of 500 test case results."
MAX_CASES_PER_REPORT = 500
SHARD_FILE = "junit.xml"
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


class ReportError(Exception):
    """The JUnit file cannot be split as asked; the message says why and what to change."""


def shard_folder(base: Path, number: int) -> Path:
    """`<base>-<number>`: the base-directory of report group `number` (1-based) in the buildspec."""
    return base.parent / f"{base.name}-{number}"


def split_junit(source: Path, base: Path, *, shards: int, max_cases: int = MAX_CASES_PER_REPORT) -> list[int]:
    """Write the test cases of `source` in order into `shards` JUnit files of at most `max_cases`
    each (`<base>-1/junit.xml` ...); return how many cases each holds. Every shard is written, empty
    ones too, so no report group reads a stale file of an earlier run."""
    cases = [
        (suite.get("name", "pytest"), case) for suite in _suites(source) for case in suite.iter("testcase")
    ]
    if len(cases) > shards * max_cases:
        raise ReportError(
            f"{source} holds {len(cases)} test cases; {shards} reports of at most {max_cases} hold "
            f"{shards * max_cases}: add a report group (infra/delivery/build.py JUNIT_SHARDS)"
        )
    counts = []
    for number in range(1, shards + 1):
        chunk = cases[(number - 1) * max_cases : number * max_cases]
        folder = shard_folder(base, number)
        folder.mkdir(parents=True, exist_ok=True)
        _write_shard(folder / SHARD_FILE, chunk, name=f"shard {number} of {shards}")
        counts.append(len(chunk))
    return counts


def _suites(source: Path) -> list[ET.Element]:
    root = ET.parse(source).getroot()
    return [root] if root.tag == "testsuite" else list(root.iter("testsuite"))


def _write_shard(path: Path, cases: list[tuple[str, ET.Element]], *, name: str) -> None:
    outcomes = [_outcome(case) for _, case in cases]
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(outcomes.count("failure")),
        errors=str(outcomes.count("error")),
        skipped=str(outcomes.count("skipped")),
        time=f"{sum(float(case.get('time', 0) or 0) for _, case in cases):.3f}",
    )
    suite.extend(case for _, case in cases)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _outcome(case: ET.Element) -> str:
    for outcome in ("failure", "error", "skipped"):
        if case.find(outcome) is not None:
            return outcome
    return "passed"


def count_cases(path: Path) -> int:
    return sum(1 for suite in _suites(path) for _ in suite.iter("testcase"))


def collect_reports(
    reports: Mapping[str, Any], *, source: Path, environment: Mapping[str, str], output: Path
) -> dict[str, list[Path]]:
    """Copy each report group's files (the buildspec's `reports:`) into `output/<group>/`, keyed by
    the group as CodeBuild resolves it: a `$VARIABLE` key is the variable's value (an ARN)."""
    collected: dict[str, list[Path]] = {}
    for key, report in reports.items():
        group = _VARIABLE.sub(lambda match: environment.get(match.group(1), match.group(0)), str(key))
        base = source / str(report.get("base-directory", "."))
        target = output / _safe(group)
        found = sorted(
            Path(match)
            for pattern in report["files"]
            for match in glob.glob(str(base / pattern), recursive=True)
            if Path(match).is_file()
        )
        for path in found:
            destination = target / path.relative_to(base)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        collected[group] = [target / path.relative_to(base) for path in found]
    return collected


def _safe(group: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", group)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_deploy_dev.delivery.reports")
    commands = parser.add_subparsers(dest="command", required=True)
    split = commands.add_parser("split", help="split a JUnit file into report-sized shards")
    split.add_argument("source", type=Path)
    split.add_argument("base", type=Path, help="shard N is written to <base>-N/junit.xml")
    split.add_argument("--shards", type=int, required=True)
    arguments = parser.parse_args(argv)
    if not arguments.source.is_file():
        print(f"no JUnit file at {arguments.source}: the tests did not run", file=sys.stderr)
        return 1
    try:
        counts = split_junit(arguments.source, arguments.base, shards=arguments.shards)
    except (ReportError, ET.ParseError) as error:
        print(f"cannot split {arguments.source}: {error}", file=sys.stderr)
        return 1
    print(f"{sum(counts)} test cases in reports of {', '.join(map(str, counts))} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
