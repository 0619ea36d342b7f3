"""The drift report: one JSON document for machines and the same facts as a static HTML page.

The HTML has no script and no external asset (charts are inline SVG), and every text that came
from data (feature names, category values, model versions) is escaped.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from ml_deploy.reference import PROBABILITY_EDGES
from retrain_job.monitor.concept import ConceptDrift
from retrain_job.monitor.drift import ALERTING, FeatureDrift, PredictionDrift, Thresholds
from retrain_job.monitor.text import clip
from retrain_job.monitor.window import WindowCounts

if TYPE_CHECKING:  # verdict imports publishing, which must not import the report
    from retrain_job.monitor.verdict import Verdict

_PROBABILITY_BINS = [f"p {low:.2f}-{high:.2f}" for low, high in itertools.pairwise(PROBABILITY_EDGES)]
P_VALUE_NOTE = (
    "p-values are shown for reference only: with thousands of rows any visible difference has a "
    "p-value near 0, so drift is decided on effect sizes (KS statistic, PSI), not on p-values."
)


@dataclass(frozen=True)
class VersionReport:
    """One model version's rows in the window and its verdict against its own bundle's reference.

    `verdict` is None when the version's bundle could not be read: its rows are counted only.
    """

    version: str
    rows: int
    verdict: Verdict | None


def build_report(
    *,
    run: dict[str, Any],
    versions: list[VersionReport] | None = None,
    counts: WindowCounts,
    thresholds: Thresholds,
    status: str,
    features: list[FeatureDrift],
    prediction: PredictionDrift | None,
    concept: ConceptDrift | None,
) -> dict[str, Any]:
    """The JSON report; `status` is one of drift, ok, not enough data, no data."""
    return {
        "run": run,
        "status": status,
        "drifted_features": [f.name for f in features if f.status in ALERTING],
        "rows": {
            "seen": counts.rows,
            "malformed": counts.malformed,
            "other_model_versions": counts.filtered,
            "outside_window": counts.outside_window,
            "corrupt_objects": [clip(text, 400) for text in counts.corrupt_objects[:50]],
        },
        "thresholds": dataclasses.asdict(thresholds),
        "note": P_VALUE_NOTE,
        "prediction": _finite(dataclasses.asdict(prediction)) if prediction else None,
        "concept_drift": dataclasses.asdict(concept) if concept else None,
        "features": [_finite(dataclasses.asdict(f)) for f in features],
        "versions": [_version(item) for item in versions or []],
    }


def _version(item: VersionReport) -> dict[str, Any]:
    """Per version: its rows, status and drifted features (the top level details the judged one)."""
    verdict = item.verdict
    if verdict is None:
        return {"version": item.version, "rows": item.rows, "status": "no reference", "drifted_features": []}
    return {
        "version": item.version,
        "rows": item.rows,
        "status": verdict.status,
        "drifted_features": [f.name for f in verdict.drifted],
        "prediction_psi": _finite({"psi": verdict.prediction.psi})["psi"] if verdict.prediction else None,
        "prediction": _finite(dataclasses.asdict(verdict.prediction)) if verdict.prediction else None,
        "features": [
            _finite({"name": f.name, "status": f.status, "psi": f.psi, "statistic": f.statistic})
            for f in verdict.features
        ],
    }


def render_html(report: dict[str, Any]) -> str:
    run = report["run"]
    rows = report["rows"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Drift report {escape(str(run.get('environment', '')))} "
        f"{escape(str(run.get('run_id', '')))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Drift report: <span class='{_css(report['status'])}'>{escape(report['status'])}</span></h1>",
        "<table class='facts'>",
        *(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in run.items()),
        f"<tr><th>rows seen</th><td>{rows['seen']}</td></tr>",
        f"<tr><th>malformed rows</th><td>{rows['malformed']}</td></tr>",
        f"<tr><th>rows of other model versions</th><td>{rows['other_model_versions']}</td></tr>",
        f"<tr><th>rows stamped outside the window</th><td>{rows.get('outside_window', 0)}</td></tr>",
        f"<tr><th>drift when</th><td>{escape(_rule(report['thresholds']))}</td></tr>",
        "</table>",
        f"<p class='note'>{escape(report['note'])}</p>",
    ]
    parts += _prediction_section(report["prediction"])
    parts += _concept_section(report["concept_drift"])
    parts += _feature_table(report["features"])
    parts += _versions_table(report.get("versions", []))
    parts.append("</body></html>")
    return "\n".join(parts)


def _prediction_section(prediction: dict[str, Any] | None) -> list[str]:
    if prediction is None:
        return []
    return [
        "<h2>Predictions</h2><table><tr><th>status</th><th>PSI</th><th>KS</th><th>p-value</th>"
        "<th>positive rate (reference)</th><th>positive rate (current)</th><th>probability</th></tr>",
        f"<tr class='{_css(prediction['status'])}'><td>{escape(prediction['status'])}</td>"
        f"<td>{_num(prediction['psi'])}</td><td>{_num(prediction['ks'])}</td>"
        f"<td>{_num(prediction['p_value'], p=True)}</td>"
        f"<td>{_num(prediction['positive_rate_reference'])}</td>"
        f"<td>{_num(prediction['positive_rate_current'])}</td>"
        f"<td>{_bars(prediction['reference_shares'], prediction['current_shares'], labels=_PROBABILITY_BINS)}"
        "</td></tr></table>",
    ]


def _concept_section(concept: dict[str, Any] | None) -> list[str]:
    if concept is None:
        return []
    top = ", ".join(f"{escape(name)} ({value:.3f})" for name, value in concept["top_features"]) or "none"
    verdict = "drift" if concept["drifted"] else "ok"
    return [
        "<h2>Reference vs production classifier</h2>",
        f"<p class='{verdict}'>ROC AUC {concept['auc']:.3f} (threshold {concept['threshold']:.2f}): "
        f"{verdict}. Features that separate them most: {top}.</p>",
        "<p class='note'>Reference rows are synthesised from the manifest's histograms one feature at a "
        "time, so this check sees combined shifts of the distributions, not changed correlations.</p>",
    ]


def _feature_table(features: list[dict[str, Any]]) -> list[str]:
    parts = [
        "<h2>Features</h2><p class='legend'><span class='ref'>&#9632;</span> reference "
        "<span class='cur'>&#9632;</span> current</p><table><tr><th>feature</th><th>kind</th>"
        "<th>status</th><th>why</th><th>PSI</th><th>test</th><th>statistic</th><th>p-value</th>"
        "<th>TV</th><th>rows</th><th>missing (ref &rarr; now)</th><th>unseen values</th>"
        "<th>distribution</th></tr>"
    ]
    for f in features:
        unseen = ", ".join(f"{escape(k)}: {v}" for k, v in f["unseen"].items()) or ""
        parts.append(
            f"<tr class='{_css(f['status'])}'><td>{escape(f['name'])}</td><td>{f['kind']}</td>"
            f"<td>{escape(f['status'])}</td><td>{escape('; '.join(f['reasons']))}</td>"
            f"<td>{_num(f['psi'])}</td><td>{f['test']}</td>"
            f"<td>{_num(f['statistic'])}</td><td>{_num(f['p_value'], p=True)}</td>"
            f"<td>{_num(f['distance'])}</td><td>{f['rows']}</td>"
            f"<td>{f['missing_rate_reference']:.1%} &rarr; {f['missing_rate_current']:.1%}</td>"
            f"<td>{unseen}</td>"
            f"<td>{_bars(f['reference_shares'], f['current_shares'], labels=f['bin_labels'])}</td></tr>"
        )
    parts.append("</table>")
    return parts


def _versions_table(versions: list[dict[str, Any]]) -> list[str]:
    """Each model version judged on its own rows against its own bundle."""
    if not versions:
        return []
    rows = "".join(
        f"<tr class='{_css(v['status'])}'><td>{escape(v['version'])}</td><td>{v['rows']}</td>"
        f"<td>{escape(v['status'])}</td><td>{escape(', '.join(v['drifted_features']))}</td></tr>"
        for v in versions
    )
    return [
        "<h2>Model versions</h2><table><tr><th>version</th><th>rows</th><th>status</th>"
        f"<th>drifted</th></tr>{rows}</table>"
    ]


def _bars(reference: list[float], current: list[float], *, labels: list[str] | None = None) -> str:
    """Paired bars per bin, reference then current, scaled to the tallest; titles name the bin."""
    width, height = 260, 56
    slot = width / max(len(reference), 1)
    top = max([*reference, *current, 1e-9])
    shapes = []
    for i, (ref, cur) in enumerate(zip(reference, current, strict=True)):
        label = escape(labels[i]) if labels else f"bin {i}"
        for offset, share, css in ((0.0, ref, "ref"), (0.5, cur, "cur")):
            bar = height * share / top
            shapes.append(
                f"<rect class='{css}' x='{i * slot + offset * slot:.1f}' y='{height - bar:.1f}' "
                f"width='{slot / 2:.1f}' height='{bar:.1f}'><title>{label}: {share:.1%}</title></rect>"
            )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>{''.join(shapes)}</svg>"
    )


def _rule(thresholds: dict[str, Any]) -> str:
    return (
        f"KS >= {thresholds['ks']} (numeric), total variation >= {thresholds['category']} "
        f"(categorical), PSI >= {thresholds['psi_drift']}, missing rate changed by >= "
        f"{thresholds['missing']}, an unseen category in >= {thresholds['unseen']:.1%} of rows, or "
        f"a feature absent from every row (moderate: PSI >= {thresholds['psi_moderate']}); "
        f"at least {thresholds['min_rows']} rows"
    )


def _num(value: float | None, *, p: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    return f"{value:.2e}" if p and value < 1e-3 else f"{value:.4f}"


def _css(status: str) -> str:
    return {"drift": "drift", "absent": "drift", "moderate": "moderate", "ok": "ok"}.get(status, "none")


def _finite(document: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or infinity: such values become null."""
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in document.items()
    }


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}
tr.drift td,span.drift,p.drift{background:#fde2e1}tr.moderate td,span.moderate{background:#fff4d6}
span.ok,p.ok{background:#e3f6e3}.note{color:#555;font-size:90%}
rect.ref,span.ref{fill:#8a9bb0;color:#8a9bb0}rect.cur,span.cur{fill:#e07b39;color:#e07b39}
"""
