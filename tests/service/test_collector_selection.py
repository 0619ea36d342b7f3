"""What the collector sidecar selects really exists: a live scrape of `python -m service`.

The selection is read from the collector configuration the Pulumi program renders (under the
mocks), so a metric or label renamed in the service fails here instead of emptying a dashboard
or starving an alarm.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.serving.collector import COLLECTOR_CONTAINER, CONFIG_VARIABLE
from ml_deploy_dev.program import Program
from ml_deploy_dev.servers import serving


@pytest.fixture(scope="module")
def collector_config(dev_program: Program) -> dict[str, Any]:
    """The prod collector's configuration, as `pulumi up -s dev` would hand it to the sidecar."""
    task = dev_program.one("aws:ecs/taskDefinition:TaskDefinition", "serving-prod-task")
    (collector,) = [
        c for c in json.loads(task.inputs["containerDefinitions"]) if c["name"] == COLLECTOR_CONTAINER
    ]
    values = {item["name"]: item["value"] for item in collector["environment"]}
    config: dict[str, Any] = json.loads(values[CONFIG_VARIABLE])
    return config


@pytest.fixture(scope="module")
def scraped(trained_bundle: Path, valid_records: list[dict[str, Any]]) -> Iterator[dict[str, list[Any]]]:
    """Samples by metric name from the real server's /metrics, after it scored a few records."""
    with serving(trained_bundle, ENVIRONMENT="prod", LOG_BUCKET=None) as url:
        request = urllib.request.Request(
            f"{url}/predict",
            data=orjson.dumps({"records": valid_records[:5]}),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        # Histograms and counters expose several series; the receiver names the metric by family.
        name = family.name + ("_total" if family.type == "counter" else "")
        samples[name] = family.samples
    yield samples


def _renamed_labels(config: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(dimension -> service label it is copied from, dimension -> value the scrape sets)."""
    (scrape,) = config["receivers"]["prometheus"]["config"]["scrape_configs"]
    renamed = {
        rule["target_label"]: rule["source_labels"][0]
        for rule in scrape.get("metric_relabel_configs", [])
        if "target_label" in rule
    }
    static = {key: value for target in scrape["static_configs"] for key, value in target["labels"].items()}
    return renamed, static


def test_every_metric_the_collector_selects_is_exposed_by_the_service(
    collector_config: dict[str, Any], scraped: dict[str, list[Any]]
) -> None:
    declarations = collector_config["exporters"]["awsemf"]["metric_declarations"]
    for declaration in declarations:
        for selector in declaration["metric_name_selectors"]:
            matching = [name for name in scraped if re.fullmatch(selector.strip("^$"), name)]
            assert matching, (
                f"the collector selects {selector}, which /metrics does not expose: {sorted(scraped)}"
            )


def test_every_dimension_the_collector_exports_is_a_label_it_sets_or_the_service_exposes(
    collector_config: dict[str, Any], scraped: dict[str, list[Any]]
) -> None:
    renamed, static = _renamed_labels(collector_config)
    for declaration in collector_config["exporters"]["awsemf"]["metric_declarations"]:
        for selector in declaration["metric_name_selectors"]:
            name = selector.strip("^$")
            for dimensions in declaration["dimensions"]:
                for dimension in dimensions:
                    if dimension in static:
                        continue
                    assert dimension in renamed, f"{name}: dimension {dimension} comes from no label"
                    label = renamed[dimension]
                    carrying = [s for s in scraped[name] if s.labels.get(label)]
                    assert carrying, f"{name} has no sample with label {label} (exported as {dimension})"


def test_the_model_band_and_creation_time_are_exported_with_values(scraped: dict[str, list[Any]]) -> None:
    (low,) = scraped["model_expected_mean_probability_low"]
    (high,) = scraped["model_expected_mean_probability_high"]
    assert 0.0 <= low.value < high.value <= 1.0, (low.value, high.value)
    (created,) = scraped["model_bundle_created_timestamp_seconds"]
    assert created.value > 1.6e9, f"bundle creation time {created.value} is not a Unix time"
