"""Charts as Vega-Lite specs written with Altair; the page embeds the spec as JSON data and
portal.js draws it with the vendored vega-embed. Each chart comes with its numbers as a
table, so the page still reads without JavaScript."""

from __future__ import annotations

import json
from dataclasses import dataclass

import altair as alt

PALETTE = ["#1f5aa6", "#d9822b", "#2e8b57", "#b03a2e", "#7d5ba6", "#5f6b7a"]
GOOD, WARN, BAD = "#2e8b57", "#d9822b", "#b03a2e"
# The portal's CSS font stack: a CJK face first, so axis labels in Chinese are never boxes.
FONT = '"PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif'


@dataclass
class Chart:
    id: str
    title: str
    spec: str  # Vega-Lite JSON
    columns: list[str]  # the table beside it: header labels ...
    rows: list[list]  # ... and rows already formatted for the locale


def chart(chart_id: str, title: str, figure: alt.TopLevelMixin, columns: list[str], rows: list[list]) -> Chart:
    # Unvalidated: the specs are fixed by this module and checked by the tests; validating every
    # render cost most of the dashboard's time (jsonschema over the whole Vega-Lite schema).
    spec = figure.properties(width="container").to_dict(validate=False)
    spec.pop("$schema", None)  # vega-embed knows the vendored version
    spec["config"] = {**spec.get("config", {}), "range": {"category": PALETTE}, "view": {"stroke": None},
                      "font": FONT}  # fmt: skip
    # `</` cannot end the <script type="application/json"> that carries the spec early.
    return Chart(chart_id, title, json.dumps(spec, ensure_ascii=False).replace("</", "<\\/"), columns, rows)


def bars(
    chart_id: str,
    title: str,
    data: list[dict],
    *,
    x: str,
    y: str,
    x_title: str,
    y_title: str,
    color: str | None = None,
    color_title: str | None = None,
    colors: dict[str, str] | None = None,
    horizontal: bool = False,
    columns: list[str],
    rows: list[list],
    height: int = 220,
    value_format: str = ",d",
    thresholds: list[float] | None = None,
) -> Chart:
    """Bars, stacked by `color` when given; `colors` fixes a colour per value (late in amber,
    missing in red) and the order of the stack and legend. Bars count things (whole ticks, even
    when all are zero) unless `value_format` says otherwise; `thresholds` draws dashed lines
    at those values (vertical bars only), always in view."""
    base = alt.Chart(alt.Data(values=data)).mark_bar()
    cat = alt.X(f"{x}:N", title=x_title, sort=None) if not horizontal else alt.Y(f"{x}:N", title=x_title, sort="-x")
    counts = alt.Axis(tickMinStep=1, format=",d") if value_format == ",d" else alt.Axis(format=value_format)
    top = max([*(thresholds or []), *(d[y] for d in data)], default=0) * 1.15 if thresholds else None
    value_scale = alt.Scale(domain=[0, top]) if top else alt.Undefined
    val = (alt.Y(f"{y}:Q", title=y_title, axis=counts, scale=value_scale) if not horizontal
           else alt.X(f"{y}:Q", title=y_title, axis=counts))  # fmt: skip
    enc = {"x": cat, "y": val} if not horizontal else {"y": cat, "x": val}
    tooltip = [alt.Tooltip(f"{x}:N", title=x_title), alt.Tooltip(f"{y}:Q", title=y_title)]
    if color:
        scale = alt.Scale(domain=list(colors), range=list(colors.values())) if colors else alt.Undefined
        enc["color"] = alt.Color(f"{color}:N", title=color_title, scale=scale)
        tooltip.append(alt.Tooltip(f"{color}:N", title=color_title))
    figure = base.encode(**enc, tooltip=tooltip)
    if thresholds:
        rules = alt.Chart(alt.Data(values=[{"at": t} for t in thresholds])).mark_rule(color=BAD, strokeDash=[4, 3])
        figure = alt.layer(figure, rules.encode(y=alt.Y("at:Q", scale=value_scale)))
    return chart(chart_id, title, figure.properties(height=height), columns, rows)


def lines(
    chart_id: str,
    title: str,
    data: list[dict],
    *,
    x: str,
    y: str,
    color: str,
    x_title: str,
    y_title: str,
    color_title: str,
    columns: list[str],
    rows: list[list],
) -> Chart:
    figure = (
        alt.Chart(alt.Data(values=data))
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{x}:O", title=x_title),
            y=alt.Y(f"{y}:Q", title=y_title),
            color=alt.Color(f"{color}:N", title=color_title),
            tooltip=[f"{x}:O", f"{color}:N", f"{y}:Q"],
        )
        .properties(height=220)
    )
    return chart(chart_id, title, figure, columns, rows)
