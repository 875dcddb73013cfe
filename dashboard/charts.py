"""Altair charts of the Side-by-side page: each takes one tidy frame from `dashboard.views`.

The builders only encode; every number comes from the view frame passed in
(tested in tests/test_dashboard_charts.py), so what a chart shows is exactly
what its CSV download holds.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.views import TL_TYPES

STUDY = "study (reported)"
STUDY_COLOUR = "#3a3a3a"
SHAPES = ["square", "triangle-up", "diamond", "cross", "triangle-down", "wedge", "stroke", "arrow"]
#: Vega's tableau10, without its grey (kept for studies)
PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d"]
WIDTH = 560


def _value_axis(title: str, values: pd.Series) -> alt.X:
    low = float(values.min()) if len(values) else 0.0
    return alt.X("value:Q", title=title, scale=alt.Scale(domain=[max(0.0, min(low, 0.5) - 0.02), 1.0]))


def strategy_chart(values: pd.DataFrame, measure: str) -> alt.FacetChart:
    """Per TL type, one lane of studies (grey points + box) and one of harness trials (colour = backbone,
    shape = weights, box), on one value axis."""
    data = values.assign(
        colour=values["backbone"].where(values["origin"] == "harness", STUDY).astype(str),
        marker=values["weights"].where(values["origin"] == "harness", STUDY).astype(str))
    backbones = sorted(set(data.loc[data["origin"] == "harness", "colour"]))
    weights = sorted(set(data.loc[data["origin"] == "harness", "marker"]))
    palette = (PALETTE * (1 + len(backbones) // len(PALETTE)))[:len(backbones)]
    colour = alt.Color("colour:N", title="backbone", scale=alt.Scale(domain=[STUDY, *backbones],
                                                                      range=[STUDY_COLOUR, *palette]))
    shape = alt.Shape("marker:N", title="weights", scale=alt.Scale(
        domain=[STUDY, *weights], range=["circle", *(SHAPES * (1 + len(weights) // len(SHAPES)))[:len(weights)]]))
    x = _value_axis(measure, data["value"])
    y = alt.Y("origin:N", title=None, sort=["literature", "harness"], axis=alt.Axis(labelFontWeight="bold"))
    jitter = alt.YOffset("jitter:Q", scale=alt.Scale(domain=[-3.5, 3.5]), title=None)
    box = alt.Chart().mark_boxplot(extent="min-max", opacity=0.25, size=26, color="#888888",
                                   median={"color": "#222222"}, outliers=False).encode(x=x, y=y)
    studies = alt.Chart().transform_filter(alt.datum.origin == "literature").transform_calculate(
        jitter="sqrt(-2*log(random()))*cos(2*PI*random())").mark_point(filled=True, size=70, opacity=0.9).encode(
        x=x, y=y, yOffset=jitter, color=colour, shape=shape,
        tooltip=[alt.Tooltip("label:N", title="study"), alt.Tooltip("value:Q", title=measure, format=".3f"),
                 alt.Tooltip("data_size:N", title="data size"), alt.Tooltip("source:N", title="source")])
    trials = alt.Chart().transform_filter(alt.datum.origin == "harness").transform_calculate(
        jitter="sqrt(-2*log(random()))*cos(2*PI*random())").mark_point(filled=True, size=28, opacity=0.55).encode(
        x=x, y=y, yOffset=jitter, color=colour, shape=shape,
        tooltip=[alt.Tooltip("label:N", title="trial"), alt.Tooltip("value:Q", title=measure, format=".3f"),
                 "backbone:N", "weights:N", "strategy:N", alt.Tooltip("data_size:N", title="data size"),
                 alt.Tooltip("seed:Q", format="d")])
    present = [t for t in TL_TYPES if t in set(data["tl_type"])] + sorted(set(data["tl_type"]) - set(TL_TYPES))
    return alt.layer(box, studies, trials, data=data).properties(width=WIDTH, height=90).facet(
        row=alt.Row("tl_type:N", sort=present, title=None,
                    header=alt.Header(labelAngle=0, labelAlign="left", labelFontWeight="bold", labelFontSize=12)),
        spacing=6).configure_legend(labelLimit=160)


def table2_chart(dumbbell: pd.DataFrame, measure: str) -> alt.LayerChart:
    """Dumbbells: Ho & Kim's published value (black diamond) to the harness mean ± sd (colour = weights),
    one line per Table 2 row, the weights and number of runs written next to each harness point."""
    order = list(dict.fromkeys(dumbbell["label"]))
    runs = dumbbell[dumbbell["trials"] > 0].assign(
        note=lambda d: d["weights"] + " (n=" + d["trials"].astype(str) + ")")
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=300))
    x_scale = alt.Scale(zero=False, padding=12)
    offset = alt.YOffset("weights:N", title=None)
    colour = alt.Color("weights:N", title="harness weights")
    published = alt.Chart(dumbbell.drop_duplicates("label")).mark_point(
        shape="diamond", size=110, filled=True, color="black").encode(
        x=alt.X("published:Q", title=measure, scale=x_scale), y=y,
        tooltip=["model:N", "depth:N", alt.Tooltip("published:Q", format=".3f", title="published (Table 2)")])
    if runs.empty:
        return published.properties(width=WIDTH, height=alt.Step(22))
    link = alt.Chart(runs).mark_rule(color="#aaaaaa", strokeDash=[3, 2]).encode(
        x="published:Q", x2="harness:Q", y=y, yOffset=offset)
    spread = alt.Chart(runs).mark_rule(strokeWidth=2).encode(x="low:Q", x2="high:Q", y=y, yOffset=offset,
                                                               color=colour)
    tooltip = ["model:N", "depth:N", "weights:N", alt.Tooltip("trials:Q", title="runs (seeds)"),
               alt.Tooltip("harness:Q", format=".3f", title="harness mean"),
               alt.Tooltip("sd:Q", format=".3f", title="harness sd"),
               alt.Tooltip("published:Q", format=".3f", title="published"),
               alt.Tooltip("diff:Q", format="+.3f", title="harness − published")]
    mean = alt.Chart(runs).mark_point(filled=True, size=70).encode(
        x="harness:Q", y=y, yOffset=offset, color=colour, tooltip=tooltip)
    note = alt.Chart(runs).mark_text(align="left", dx=8, fontSize=10, color="#555555").encode(
        x="high:Q", y=y, yOffset=offset, text="note:N")
    return alt.layer(link, spread, published, mean, note).properties(width=WIDTH, height=alt.Step(26))


def size_chart(frame: pd.DataFrame, measure: str) -> alt.HConcatChart:
    """One panel per Figure 6 selection: studies (colour = modality) and the harness's learning curves
    (line colour = TL strategy, mean ± sd over trials per configuration), data per class on a log axis."""
    data = frame.assign(strategy=frame["label"].where(frame["kind"] == "harness").str.split(" / ").str[1])
    sizes = data["data_per_class"][data["data_per_class"] > 0]
    domain = [float(sizes.min()) / 1.3, float(sizes.max()) * 1.3] if len(sizes) else [1, 10]
    x = alt.X("data_per_class:Q", scale=alt.Scale(type="log", domain=domain, nice=False),
              title="data per class (log; patients for CT/MRI/microscopy, else images)")
    y = alt.Y("value:Q", title=measure, scale=alt.Scale(zero=False))
    study_tip = [alt.Tooltip("label:N", title="study"), alt.Tooltip("group:N", title="modality"),
                 alt.Tooltip("data_size:N", title="data size"), alt.Tooltip("value:Q", format=".3f")]
    run_tip = [alt.Tooltip("label:N", title="configuration"), alt.Tooltip("data_size:N", title="data size"),
               alt.Tooltip("value:Q", format=".3f", title="mean"), alt.Tooltip("sd:Q", format=".3f"),
               alt.Tooltip("trials:Q", title="trials")]
    stroke = alt.Stroke("strategy:N", title="harness strategy", scale=alt.Scale(scheme="dark2"))
    panels = []
    for panel in dict.fromkeys(data["panel"]):
        part = data[data["panel"] == panel]
        studies = alt.Chart(part[part["kind"] == "study"]).mark_point(filled=True, size=70, opacity=0.85).encode(
            x=x, y=y, color=alt.Color("group:N", title="study modality"), tooltip=study_tip)
        runs = part[part["kind"] == "harness"].assign(
            low=lambda d: d["value"] - d["sd"].fillna(0.0), high=lambda d: d["value"] + d["sd"].fillna(0.0))
        curve = alt.Chart(runs).mark_line(point=alt.OverlayMarkDef(shape="diamond", size=50, filled=False),
                                          strokeWidth=1.2, opacity=0.8).encode(
            x=x, y=y, stroke=stroke, detail="label:N", tooltip=run_tip)
        bars = alt.Chart(runs).mark_rule(opacity=0.5).encode(x=x, y="low:Q", y2="high:Q", stroke=stroke)
        panels.append(alt.layer(studies, bars, curve).properties(width=330, height=300, title=alt.TitleParams(
            panel, fontSize=11, anchor="start")))
    return alt.hconcat(*panels).configure_legend(orient="bottom", columns=4, labelLimit=220)


def forest_chart(rows: pd.DataFrame, scale_title: str) -> alt.FacetChart:
    """Subgroup forest plot: studies (point size = weight, line = CI), each group's pooled estimate as a diamond."""
    data = rows.assign(order=range(len(rows)))
    y = alt.Y("label:N", sort=alt.EncodingSortField("order"), title=None)
    x = alt.X("estimate:Q", title=scale_title, scale=alt.Scale(zero=False))
    tip = ["label:N", alt.Tooltip("estimate:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
           alt.Tooltip("ci_high:Q", format=".3f"), alt.Tooltip("weight:Q", format=".3f"), "k:Q"]
    ci = alt.Chart().mark_rule().encode(x=alt.X("ci_low:Q", title=scale_title), x2="ci_high:Q", y=y,
                                        color=alt.Color("kind:N", legend=None,
                                                        scale=alt.Scale(domain=["study", "pooled"],
                                                                        range=["#4c78a8", "black"])))
    study = alt.Chart().transform_filter(alt.datum.kind == "study").mark_square(color="#4c78a8").encode(
        x=x, y=y, size=alt.Size("weight:Q", legend=None, scale=alt.Scale(range=[20, 200])), tooltip=tip)
    pooled = alt.Chart().transform_filter(alt.datum.kind == "pooled").mark_point(
        shape="diamond", filled=True, size=260, color="black").encode(x=x, y=y, tooltip=tip)
    return alt.layer(ci, study, pooled, data=data).properties(width=WIDTH - 160, height=alt.Step(16)).facet(
        row=alt.Row("group:N", title=None, sort=list(dict.fromkeys(rows["group"])),
                    header=alt.Header(labelAngle=0, labelAlign="left", labelFontWeight="bold")),
        spacing=8).resolve_scale(y="independent")


def coefficients_chart(coefs: pd.DataFrame) -> alt.LayerChart:
    """Meta-regression coefficients (logit scale) with 95 % intervals; the dashed line is no effect."""
    y = alt.Y("term:N", sort=list(coefs["term"]), title=None)
    tip = ["term:N", alt.Tooltip("estimate:Q", format=".3f"), alt.Tooltip("se:Q", format=".3f"),
           alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"),
           alt.Tooltip("p:Q", format=".3g")]
    base = alt.Chart(coefs)
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(strokeDash=[4, 3], color="#888888").encode(x="zero:Q")
    ci = base.mark_rule().encode(x=alt.X("ci_low:Q", title="coefficient (logit scale)"), x2="ci_high:Q", y=y)
    point = base.mark_point(filled=True, size=70).encode(x="estimate:Q", y=y, tooltip=tip)
    return alt.layer(zero, ci, point).properties(width=WIDTH - 160, height=alt.Step(24))


def throughput_chart(speed: pd.DataFrame) -> alt.HConcatChart:
    """Per trial and phase: images per second (log) and the share of the device's reference throughput."""
    colour = alt.Color("backbone:N")
    shape = alt.Shape("strategy:N")
    y = alt.Y("phase:N", title=None, sort=["cache_fill", "head_training", "fine_tuning", "test"])
    tip = ["trial_id:N", "backbone:N", "strategy:N", "weights:N", "device:N", "phase:N",
           alt.Tooltip("images_per_s:Q", format=",.1f", title="images/s"),
           alt.Tooltip("share_of_reference:Q", format=".1%", title="share of reference")]
    jitter = alt.YOffset("jitter:Q", scale=alt.Scale(domain=[-3.5, 3.5]), title=None)
    base = alt.Chart(speed).transform_calculate(jitter="sqrt(-2*log(random()))*cos(2*PI*random())")
    rate = base.mark_point(filled=True, opacity=0.6).encode(
        x=alt.X("images_per_s:Q", scale=alt.Scale(type="log"), title="images per second (log)"),
        y=y, yOffset=jitter, color=colour, shape=shape, tooltip=tip).properties(width=360, height=alt.Step(60))
    share = base.transform_filter("isValid(datum.share_of_reference)").mark_point(filled=True, opacity=0.6).encode(
        x=alt.X("share_of_reference:Q", axis=alt.Axis(format="%"), title="share of the device's reference throughput"),
        y=y, yOffset=jitter, color=colour, shape=shape, tooltip=tip).properties(width=300, height=alt.Step(60))
    return alt.hconcat(rate, share)


def cost_chart(points: pd.DataFrame, measure: str, cost_title: str = "wall time per trial (s, log)") -> alt.LayerChart:
    """Every trial's wall time against its performance; the Pareto front as a step line."""
    tip = ["trial_id:N", "backbone:N", "strategy:N", "weights:N", alt.Tooltip("data_size:Q", title="training patients"),
           alt.Tooltip("cost:Q", format=",.1f", title="wall time (s)"), alt.Tooltip("value:Q", format=".3f"),
           "pareto:N"]
    x = alt.X("cost:Q", scale=alt.Scale(type="log"), title=cost_title)
    y = alt.Y("value:Q", title=measure, scale=alt.Scale(zero=False))
    dots = alt.Chart(points).mark_point(filled=True, size=26, opacity=0.45).encode(
        x=x, y=y, color=alt.Color("strategy:N"), shape=alt.Shape("weights:N"), tooltip=tip)
    front = alt.Chart(points[points["pareto"]]).mark_line(interpolate="step-after", color="black", strokeWidth=1.5,
                                                          point=alt.OverlayMarkDef(color="black", size=40)).encode(
        x=x, y=y, tooltip=tip)
    return alt.layer(dots, front).properties(width=WIDTH, height=360)
