"""One self-contained HTML page: plotly.js inlined once, then every chart, then no other asset.

It must open from a file or a presigned S3 URL in a network that reaches nothing else, so nothing
is fetched: the first chart carries the library (`include_plotlyjs=True`), the others none
(`include_plotlyjs=False`), all as fragments (`full_html=False`) of this page
(https://plotly.com/python-api-reference/generated/plotly.io.to_html). The numbers are also
written as text above the charts, for a reader without JavaScript.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

import plotly.graph_objects as go
import plotly.io as pio

from retrain_job.dashboard import charts
from retrain_job.dashboard.history import History

CHART_CONFIG = {"displaylogo": False, "responsive": True}


def render_page(history: History, *, environment: str, now: datetime) -> str:
    figures = {
        "chart-releases": charts.timeline_figure(history.events),
        "chart-drift": charts.drift_figure(history.drift),
        "chart-quality": charts.quality_figure(history.quality),
        "chart-predictions": charts.prediction_figure(history.drift),
        "chart-traffic": charts.traffic_figure(history.drift),
    }
    title = f"Model tracking: {escape(environment)}"
    return "\n".join(
        [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>{title}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{title}</h1><p class='note'>Generated {now:%Y-%m-%d %H:%M}Z from "
            f"{len(history.drift)} monitor runs, {len(history.quality)} quality runs and "
            f"{len(history.events)} release events.</p>",
            "<noscript><p class='note'>The charts need JavaScript; "
            "the summary below has the numbers.</p></noscript>",
            *summary(history),
            *(_chart(div_id, figure, first=i == 0) for i, (div_id, figure) in enumerate(figures.items())),
            "</body></html>",
        ]
    )


def summary(history: History) -> list[str]:
    """The newest figures as text: drift status, quality per version, the last releases, skips."""
    lines = []
    if history.drift:
        newest = history.drift[-1]
        drifted = [escape(f.name) for f in newest.features if f.status in ("drift", "absent")]
        rows = ", ".join(f"{escape(v.model_version)} {v.rows}" for v in newest.version_rows())
        lines.append(
            f"Drift (window to {newest.run.window_end:%Y-%m-%d %H:%M}Z): {escape(newest.status)}"
            f"{'; drifted: ' + ', '.join(drifted) if drifted else ''}; rows: {rows}"
        )
    if history.quality:
        for version in history.quality[-1].versions:
            auc = version.metrics.get("roc_auc")
            shown = (
                "n/a" if auc is None or auc.value is None else _interval_text(auc.value, auc.low, auc.high)
            )
            lines.append(
                f"Quality of {escape(version.model_version)}: {version.status}, ROC AUC {shown}, "
                f"{version.with_outcome} of {version.predictions} predictions with an outcome"
            )
    for event in sorted(history.events, key=lambda e: e.at)[-5:]:
        what = " ".join(
            escape(part) for part in (event.environment, event.model_version, event.outcome) if part
        )
        lines.append(f"{event.at:%Y-%m-%d %H:%M}Z {event.kind} {what} {escape(event.detail[:120])}".rstrip())
    lines += [f"Skipped {escape(skip)}" for skip in history.skipped[:20]]
    if not lines:
        lines.append("No monitor runs, quality runs or releases yet.")
    return ["<ul class='summary'>", *(f"<li>{line}</li>" for line in lines), "</ul>"]


def _interval_text(value: float, low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _chart(div_id: str, figure: go.Figure, *, first: bool) -> str:
    fragment = pio.to_html(
        figure,
        include_plotlyjs=first,
        full_html=False,
        div_id=div_id,
        config=CHART_CONFIG,
        default_height=f"{figure.layout.height}px",
    )
    return f"<section class='chart'>{fragment}</section>"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
.note{color:#555;font-size:90%}ul.summary{font-size:92%;line-height:1.5}
section.chart{margin:1.5em 0;border-top:1px solid #ddd;padding-top:.5em}
"""
