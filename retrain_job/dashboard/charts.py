"""The dashboard's charts, one plotly figure per question a person asks of the model.

Every text that came from data (feature names, model versions, comments) is HTML-escaped: plotly
renders a subset of HTML in legends and hover labels, and these should show as written.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from html import escape

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ml_deploy.reference import PROBABILITY_EDGES
from ml_deploy.tracking import ReleaseEvent
from retrain_job.dashboard.records import QUALITY_METRICS, DriftRun, Metric, QualityReport

TEMPLATE = "plotly_white"
_BINS = [f"{low:.2f}-{high:.2f}" for low, high in itertools.pairwise(PROBABILITY_EDGES)]
_KINDS = ("retrain", "deploy", "approved", "rejected", "rollback")
_MARKERS = {
    "deploy": ("triangle-up", "#1f77b4"),
    "approved": ("circle", "#2ca02c"),
    "rejected": ("x", "#d62728"),
    "rollback": ("triangle-down", "#ff7f0e"),
    "retrain": ("diamond", "#9467bd"),
}


def drift_figure(runs: Sequence[DriftRun]) -> go.Figure:
    """Each feature's effect size and PSI over time, with the thresholds that mark drift."""
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("KS (numeric) / total variation (categorical)", "PSI"),
    )
    names = list(dict.fromkeys(f.name for run in runs for f in run.features))
    for index, name in enumerate(names):
        points = [(run.run.window_end, f) for run in runs for f in run.features if f.name == name]
        group, color = escape(name), _color(index)
        hover = [f"{escape(name)}: {f.status}" for _, f in points]
        for row, values in ((1, [f.effect for _, f in points]), (2, [f.psi for _, f in points])):
            figure.add_trace(
                go.Scatter(
                    x=[at for at, _ in points],
                    y=values,
                    name=group,
                    legendgroup=group,
                    showlegend=row == 1,
                    mode="lines+markers",
                    line={"color": color},
                    hovertext=hover,
                ),
                row=row,
                col=1,
            )
    if runs:
        limits = runs[-1].thresholds
        _threshold(figure, limits.ks, f"KS drift {limits.ks}", row=1)
        if limits.category != limits.ks:
            _threshold(figure, limits.category, f"TV drift {limits.category}", row=1)
        _threshold(figure, limits.psi_drift, f"PSI drift {limits.psi_drift}", row=2)
    return _layout(figure, "Feature drift over time", height=560)


def prediction_figure(runs: Sequence[DriftRun]) -> go.Figure:
    """The newest run's predicted-probability distribution per version, and each version's positive rate."""
    figure = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.55, 0.45],
        subplot_titles=("Predicted probability (newest run)", "Positive rate"),
    )
    newest = runs[-1].version_rows() if runs else []
    for index, version in enumerate(v for v in newest if v.prediction and v.prediction.current_shares):
        assert version.prediction is not None
        figure.add_trace(
            go.Bar(
                x=_BINS,
                y=version.prediction.current_shares,
                name=escape(version.model_version),
                legendgroup=version.model_version,
                marker={"color": _color(index)},
            ),
            row=1,
            col=1,
        )
    for index, name in enumerate(_versions(runs)):
        points = [
            (run.run.window_end, v.prediction.positive_rate_current)
            for run in runs
            for v in run.version_rows()
            if v.model_version == name and v.prediction
        ]
        if points:
            figure.add_trace(
                go.Scatter(
                    x=[p[0] for p in points],
                    y=[p[1] for p in points],
                    mode="lines+markers",
                    name=escape(name),
                    legendgroup=name,
                    showlegend=False,
                    line={"color": _color(index)},
                ),
                row=1,
                col=2,
            )
    figure.update_yaxes(tickformat=".0%")
    return _layout(figure, "Predictions per model version", height=380)


def traffic_figure(runs: Sequence[DriftRun]) -> go.Figure:
    """Each version's share of the scored rows, per monitor window."""
    figure = go.Figure()
    for index, name in enumerate(_versions(runs)):
        rows = [sum(v.rows for v in run.version_rows() if v.model_version == name) for run in runs]
        figure.add_trace(
            go.Scatter(
                x=[run.run.window_end for run in runs],
                y=rows,
                name=escape(name),
                stackgroup="traffic",
                groupnorm="percent",
                mode="lines",
                line={"color": _color(index)},
            )
        )
    figure.update_yaxes(title="% of rows", range=[0, 100])
    return _layout(figure, "Share of traffic per model version", height=340)


def quality_figure(reports: Sequence[QualityReport]) -> go.Figure:
    """Live quality per version over time: the value, its interval, the holdout and the floor."""
    figure = make_subplots(rows=2, cols=3, shared_xaxes=True, subplot_titles=QUALITY_METRICS)
    names = list(dict.fromkeys(v.model_version for report in reports for v in report.versions))
    for slot, metric in enumerate(QUALITY_METRICS):
        row, col = divmod(slot, 3)
        for index, name in enumerate(names):
            points = [
                (r.window.end, m)
                for r in reports
                for v in r.versions
                if v.model_version == name
                for m in [v.metrics.get(metric)]
                if m is not None and m.value is not None
            ]
            if not points:
                continue
            x, values = [p[0] for p in points], [p[1] for p in points]
            common = {"legendgroup": name, "line": {"color": _color(index)}}
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=[m.value for m in values],
                    name=escape(name),
                    mode="lines+markers",
                    showlegend=slot == 0,
                    error_y=_interval(values),
                    **common,
                ),
                row=row + 1,
                col=col + 1,
            )
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=[m.holdout for m in values],
                    name=f"{escape(name)} holdout",
                    mode="lines",
                    showlegend=slot == 0,
                    **{**common, "line": {"color": _color(index), "dash": "dash"}},
                ),
                row=row + 1,
                col=col + 1,
            )
            floors = [m.floor for m in values]
            if any(f is not None for f in floors):
                figure.add_trace(
                    go.Scatter(
                        x=x,
                        y=floors,
                        name="floor",
                        mode="lines",
                        showlegend=False,
                        line={"color": "#d62728", "dash": "dot"},
                    ),
                    row=row + 1,
                    col=col + 1,
                )
    return _layout(figure, "Live quality from outcomes (dashed: holdout, dotted: floor)", height=560)


def timeline_figure(events: Sequence[ReleaseEvent]) -> go.Figure:
    """Releases on one time axis: retrains with the gate's decision, deploys, approvals, rollbacks."""
    figure = go.Figure()
    for kind in _KINDS:
        chosen = sorted((e for e in events if e.kind == kind), key=lambda e: e.at)
        if not chosen:
            continue
        symbol, color = _MARKERS[kind]
        figure.add_trace(
            go.Scatter(
                x=[e.at for e in chosen],
                y=[kind] * len(chosen),
                mode="markers+text",
                name=kind,
                marker={"symbol": symbol, "color": color, "size": 13},
                hovertext=[_label(e) for e in chosen],
                hoverinfo="text",
                text=[escape(e.model_version or "")[-8:] for e in chosen],
                textposition="top center",
            )
        )
    figure.update_yaxes(categoryorder="array", categoryarray=list(_KINDS))
    return _layout(figure, "Releases", height=340)


def _label(event: ReleaseEvent) -> str:
    parts = [f"<b>{event.kind}</b> {event.at:%Y-%m-%d %H:%M}Z"]
    for name, value in (
        ("environment", event.environment),
        ("version", event.model_version),
        ("outcome", event.outcome),
        ("by", event.by),
    ):
        if value:
            parts.append(f"{name}: {escape(value)}")
    if event.detail:
        parts.append(escape(event.detail[:300]))
    return "<br>".join(parts)


def _interval(values: Sequence[Metric]) -> dict[str, object]:
    """Asymmetric error bars from each metric's interval (none where a bound is unknown)."""
    up = [m.high - m.value if m.high is not None and m.value is not None else None for m in values]
    down = [m.value - m.low if m.low is not None and m.value is not None else None for m in values]
    return {"type": "data", "symmetric": False, "array": up, "arrayminus": down, "thickness": 1.2}


def _threshold(figure: go.Figure, value: float, label: str, *, row: int) -> None:
    figure.add_hline(
        y=value,
        line={"color": "#d62728", "dash": "dot"},
        annotation_text=label,
        annotation_position="top left",
        row=row,
        col=1,
    )


def _versions(runs: Sequence[DriftRun]) -> list[str]:
    return list(dict.fromkeys(v.model_version for run in runs for v in run.version_rows()))


def _color(index: int) -> str:
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
    return palette[index % len(palette)]


def _layout(figure: go.Figure, title: str, *, height: int) -> go.Figure:
    figure.update_layout(
        title=title,
        template=TEMPLATE,
        height=height,
        margin={"l": 50, "r": 20, "t": 70, "b": 40},
        legend={"orientation": "h", "y": -0.12},
    )
    if not figure.data:
        figure.add_annotation(text="no data yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return figure
