"""The geometry of the metric charts: one line chart per model-index metric across versions.

Only numbers are computed here (axis ticks, positions, labels); `_chart.html.j2` draws them as
inline SVG, so a chart needs no script and no file from anywhere.
"""

from __future__ import annotations

import math

from ..reports import LOWER_IS_BETTER
from ..tags import semver_key

WIDTH, HEIGHT = 440, 196
LEFT, RIGHT, TOP, BOTTOM = 58, 18, 14, 32  # margins for the axis labels


def number(value) -> float | None:
    """`value` as a float a chart can place, or None (not a number, a bool, NaN, infinite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def model_charts(model: dict) -> list[dict]:
    """A chart for each metric of a model that at least one version gives as a number."""
    ordered = sorted(model["versions"], key=lambda v: semver_key(v["version"]))
    charts = []
    for index, metric in enumerate(model["metric_names"]):
        points = [(v["version"], number(v["metrics"].get(metric)), not v["deregistered"])
                  for v in ordered]
        points = [p for p in points if p[1] is not None]
        if points:
            charts.append({"metric": metric, "id": f"chart-{index}",
                           "lower_is_better": bool(LOWER_IS_BETTER.search(metric)),
                           **geometry(points)})
    return charts


def geometry(points: list[tuple[str, float, bool]]) -> dict:
    """Positions of the grid, labels, line and points for (version, value, active) points,
    oldest first, as the text SVG attributes take."""
    values = [v for _, v, _ in points]
    ticks = _ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]
    span_x, span_y = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (span_x * i / (len(points) - 1) if len(points) > 1 else span_x / 2)

    def y(v: float) -> float:
        return TOP + span_y * (1 - (v - low) / (high - low))

    step = max(1, math.ceil(len(points) / 6))  # at most about six version labels
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "grid": [{"y": f"{y(t):.1f}", "label_y": f"{y(t) + 4:.1f}",
                  "label": _tick_label(t, ticks)} for t in ticks],
        "labels": [{"x": f"{x(i):.1f}", "text": version}
                   for i, (version, _, _) in enumerate(points)
                   if i % step == 0 or i == len(points) - 1],
        "line": (" ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v, _) in enumerate(points))
                 if len(points) > 1 else None),
        "points": [{"x": f"{x(i):.1f}", "y": f"{y(v):.1f}", "version": version,
                    "value": f"{v:.6g}", "active": active}
                   for i, (version, v, active) in enumerate(points)],
    }


def _ticks(low: float, high: float) -> list[float]:
    """Three to six round values that span [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    digits = max(0, 2 - math.floor(math.log10(step)))
    first = math.floor(low / step)
    count = math.ceil(high / step) - first
    return [round((first + k) * step, digits) for k in range(count + 1)]


def _tick_label(value: float, ticks: list[float]) -> str:
    step = ticks[1] - ticks[0]
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    if max(abs(ticks[0]), abs(ticks[-1])) >= 1e6:
        return f"{value:.3g}"
    if digits > 6:
        return f"{value:.7g}"
    return f"{value:.{digits}f}"
