"""The local build follows CodeBuild's phase transitions and keeps the `reports:` a red run uploads.

CodeBuild's rules, held as data in `ml_deploy_dev/delivery/build.py` (TRANSITIONS, ON_FAILURE) and
checked here against small buildspecs; then the repository's own buildspec.yml, run on a source
whose one test fails, must leave that failure in the report group's output.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from ml_deploy_dev.delivery.build import BuildFailed, BuildResult, run_build
from ml_deploy_dev.delivery.definition import BuildProject, PipelineDefinition
from ml_deploy_dev.delivery.reports import MAX_CASES_PER_REPORT, ReportError, split_junit
from ml_deploy_dev.delivery.standins import IMAGES_VARIABLE, REGISTRY_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
GROUP_ARN = "arn:aws:codebuild:eu-west-1:123456789012:report-group/p-junit-1"
JUNIT = (
    '<testsuites><testsuite name="pytest" tests="2">'
    '<testcase classname="tests.test_red" name="test_passes" time="0.01"/>'
    '<testcase classname="tests.test_red" name="test_fails" time="0.01"><failure message="boom"/></testcase>'
    "</testsuite></testsuites>"
)
WRITE_REPORT = f"mkdir -p out && printf '%s' '{JUNIT}' > out/junit.xml"


def build(tmp_path: Path, phases: dict[str, Any]) -> tuple[BuildResult | BuildFailed, list[str]]:
    """Run a small buildspec whose report group is named by a variable holding an ARN."""
    source = tmp_path / "src"
    source.mkdir()
    buildspec = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": phases,
        "reports": {"$REPORT_GROUP": {"files": ["junit.xml"], "base-directory": "out"}},
    }
    (source / "buildspec.yml").write_text(yaml.safe_dump(buildspec))
    project = BuildProject(name="p", buildspec="buildspec.yml", environment={"REPORT_GROUP": GROUP_ARN})
    said: list[str] = []
    try:
        result: BuildResult | BuildFailed = run_build(
            project, source=source, environment={}, output=tmp_path / "output", say=said.append
        )
    except BuildFailed as failed:
        result = failed
    return result, said


def ran(said: list[str]) -> list[str]:
    return [line.removeprefix("phase ") for line in said if line.startswith("phase ")]


def echoed(said: list[str]) -> list[str]:
    return [line.removeprefix("  | ") for line in said if line.startswith("  | ")]


# (phases, phases run, report uploaded, what post_build saw as CODEBUILD_BUILD_SUCCEEDING)
SUCCEEDING = "echo succeeding=$CODEBUILD_BUILD_SUCCEEDING"
CASES = {
    # view-build-details-phases.html: a failed BUILD still goes to POST_BUILD and UPLOAD_ARTIFACTS.
    "build fails": (
        {
            "build": {"commands": [WRITE_REPORT, "false", "echo never"]},
            "post_build": {"commands": [SUCCEEDING]},
        },
        ["install", "pre_build", "build", "post_build"],
        True,
        ["succeeding=0"],
    ),
    # ... and a failed PRE_BUILD goes to FINALIZING: the old buildspec's tests, whose report was lost.
    "pre_build fails": (
        {"pre_build": {"commands": [WRITE_REPORT, "false"]}, "post_build": {"commands": [SUCCEEDING]}},
        ["install", "pre_build"],
        False,
        [],
    ),
    # build-spec-ref.html, on-failure: ABORT aborts the build ...
    "build fails, ABORT": (
        {
            "build": {"on-failure": "ABORT", "commands": [WRITE_REPORT, "false"]},
            "post_build": {"commands": [SUCCEEDING]},
        },
        ["install", "pre_build", "build"],
        False,
        [],
    ),
    # ... CONTINUE continues to the next phase.
    "pre_build fails, CONTINUE": (
        {
            "pre_build": {"on-failure": "CONTINUE", "commands": [WRITE_REPORT, "false"]},
            "post_build": {"commands": [SUCCEEDING]},
        },
        ["install", "pre_build", "build", "post_build"],
        True,
        ["succeeding=0"],
    ),
    "all succeed": (
        {"build": {"commands": [WRITE_REPORT]}, "post_build": {"commands": [SUCCEEDING]}},
        ["install", "pre_build", "build", "post_build"],
        True,
        ["succeeding=1"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_phases_follow_codebuilds_transitions_and_reports_upload_when_documented(
    tmp_path: Path, case: str
) -> None:
    phases, expected_phases, uploaded, post_build_saw = CASES[case]
    result, said = build(tmp_path, phases)
    assert ran(said) == expected_phases, f"{case}: ran {ran(said)}"
    assert "never" not in echoed(said), "a phase went on after its failing command"
    assert [line for line in echoed(said) if line.startswith("succeeding=")] == post_build_saw
    assert isinstance(result, BuildFailed) == (case != "all succeed")
    if uploaded:
        (kept,) = result.reports[GROUP_ARN]
        assert kept.read_text() == JUNIT, "the report group holds another file"
    else:
        assert result.reports == {}, f"{case}: CodeBuild reads no report, the local run kept {result.reports}"


def test_split_keeps_every_case_in_reports_codebuild_keeps_whole(tmp_path: Path) -> None:
    cases = "".join(f'<testcase classname="t" name="c{i}"/>' for i in range(1, 1200))
    failing = '<testcase classname="t" name="last"><failure message="x"/></testcase>'
    source = tmp_path / "junit.xml"
    source.write_text(f"<testsuites><testsuite name='pytest'>{cases}{failing}</testsuite></testsuites>")

    counts = split_junit(source, tmp_path / "junit", shards=3)

    assert counts == [MAX_CASES_PER_REPORT, MAX_CASES_PER_REPORT, 200]
    third = ET.parse(tmp_path / "junit-3" / "junit.xml").getroot().find("testsuite")
    assert third is not None and third.get("failures") == "1" and third.get("tests") == "200"
    with pytest.raises(ReportError, match="1200 test cases; 2 reports of at most 500 hold 1000"):
        split_junit(source, tmp_path / "small", shards=2)


RED_TEST = """
def test_passes() -> None:
    assert True


def test_fails() -> None:
    assert 1 == 2, "the red test"
"""


@pytest.mark.timeout(240)
def test_a_failing_test_in_the_build_leaves_its_junit_report(
    tmp_path: Path, definition: PipelineDefinition, trained_bundle: Path
) -> None:
    """buildspec.yml itself, on the repository's code with one failing test for a suite."""
    (project,) = [p for p in definition.projects.values() if p.buildspec == "buildspec.yml"]
    source = tmp_path / "src"
    source.mkdir()
    for name in ("buildspec.yml", "Makefile", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("src", "ml_deploy_dev", "infra", "service", "retrain_job"):
        (source / name).symlink_to(ROOT / name)
    (source / "tests").mkdir()
    (source / "tests" / "test_red.py").write_text(RED_TEST)
    model = tmp_path / "model"
    with zipfile.ZipFile(trained_bundle) as bundle:
        bundle.extractall(model)
    environment = {
        "CODEBUILD_RESOLVED_SOURCE_VERSION": "0123456789abcdef0123",
        "AWS_DEFAULT_REGION": "eu-west-1",
        f"CODEBUILD_SRC_DIR_{project.environment['MODEL_ARTIFACT_NAME']}": str(model),
        REGISTRY_VARIABLE: str(tmp_path / "registry"),
        IMAGES_VARIABLE: str(tmp_path / "images"),
        "PYTEST_ADDOPTS": "-q -p no:cacheprovider tests/test_red.py",
        "PYTEST_WORKERS": "0",
    }
    said: list[str] = []
    with pytest.raises(BuildFailed, match=r"phase build: .*make pytest") as failed:
        run_build(
            project, source=source, environment=environment, output=tmp_path / "output", say=said.append
        )

    assert "post_build" in ran(said), "post_build did not run after the failed build phase"
    assert not (tmp_path / "registry").exists(), "a red build pushed an image"
    first_group = project.environment["JUNIT_REPORT_GROUP_1"]
    (report,) = failed.value.reports[first_group]
    cases = {case.get("name"): case for case in ET.parse(report).getroot().iter("testcase")}
    assert set(cases) == {"test_passes", "test_fails"}, cases
    failure = cases["test_fails"].find("failure")
    assert failure is not None and "the red test" in (failure.get("message") or ""), (
        "the failure is not reported"
    )
