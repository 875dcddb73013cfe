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
PUBLISHED = "Ho & Kim 2021, Table 2"
STUDY_COLOUR = "#3a3a3a"
SHAPES = ["square", "triangle-up", "diamond", "cross", "triangle-down", "wedge", "stroke", "arrow"]
#: Vega's tableau10, without its grey (kept for studies)
PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d"]
WIDTH = 560


def _value_scale(values: pd.Series) -> alt.Scale:
    """From a little below the lowest value (at most 0.5) to 1."""
    low = float(values.min()) if len(values) else 0.0
    return alt.Scale(domain=[max(0.0, min(low, 0.5) - 0.02), 1.0], zero=False)


def lanes(values: pd.DataFrame) -> list[str]:
    """The chart's rows: per TL type (codebook order) the literature lane, then the harness lane."""
    present = [t for t in TL_TYPES if t in set(values["tl_type"])] + sorted(set(values["tl_type"]) - set(TL_TYPES))
    return [f"{t} · {origin}" for t in present for origin in ("literature", "harness")]


def strategy_chart(values: pd.DataFrame, summary: pd.DataFrame, measure: str) -> alt.LayerChart:
    """Per TL type, a lane of studies (grey circles) and a lane of harness trials (colour = backbone,
    shape = weights) on one value axis, each lane with its quartile box, median tick and range.

    One flat view (no facets) with the boxes taken from `summary` and a fixed
    vertical jitter, so ten thousand trials stay quick to draw in a browser.
    """
    import numpy as np

    harness = values["origin"] == "harness"
    data = pd.DataFrame({
        "lane": values["tl_type"].astype(str) + " · " + values["origin"].astype(str),
        "value": values["value"], "label": values["label"], "data_size": values["data_size"],
        "source": values["source"], "backbone": values["backbone"], "weights": values["weights"],
        "strategy": values["strategy"], "seed": values["seed"],
        "colour": np.where(harness, values["backbone"].astype(str), STUDY),
        "marker": np.where(harness, values["weights"].astype(str), STUDY),
        "jitter": np.random.default_rng(0).normal(size=len(values)).clip(-2.5, 2.5),
    })
    boxes = summary.assign(lane=summary["tl_type"].astype(str) + " · " + summary["origin"].astype(str))
    backbones = sorted(set(data.loc[harness.to_numpy(), "colour"]))
    weights = sorted(set(data.loc[harness.to_numpy(), "marker"]))
    palette = (PALETTE * (1 + len(backbones) // len(PALETTE)))[:len(backbones)]
    colour = alt.Color("colour:N", title="backbone", scale=alt.Scale(domain=[STUDY, *backbones],
                                                                      range=[STUDY_COLOUR, *palette]))
    shape = alt.Shape("marker:N", title="weights", scale=alt.Scale(
        domain=[STUDY, *weights], range=["circle", *(SHAPES * (1 + len(weights) // len(SHAPES)))[:len(weights)]]))
    scale = _value_scale(data["value"])
    x = alt.X("value:Q", title=measure, scale=scale)
    y = alt.Y("lane:N", title=None, sort=lanes(values), axis=alt.Axis(labelLimit=260))
    tooltip = [alt.Tooltip("label:N", title="study / trial"), alt.Tooltip("value:Q", title=measure, format=".3f"),
               alt.Tooltip("data_size:N", title="data size"), alt.Tooltip("source:N", title="source"),
               "backbone:N", "weights:N", "strategy:N", alt.Tooltip("seed:Q", format="d")]
    box = alt.Chart(boxes).mark_bar(size=26, color="#888888", opacity=0.22).encode(
        x=alt.X("q1:Q", title=measure, scale=scale), x2="q3:Q", y=y,
        tooltip=["lane:N", "n:Q", alt.Tooltip("median:Q", format=".3f"), alt.Tooltip("q1:Q", format=".3f"),
                 alt.Tooltip("q3:Q", format=".3f")])
    whisker = alt.Chart(boxes).mark_rule(color="#888888").encode(x=alt.X("min:Q", scale=scale), x2="max:Q", y=y)
    median = alt.Chart(boxes).mark_tick(color="#222222", thickness=2, size=26).encode(
        x=alt.X("median:Q", scale=scale), y=y)
    points = alt.Chart(data).mark_point(filled=True, size=34, opacity=0.6).encode(
        x=x, y=y, yOffset=alt.YOffset("jitter:Q", scale=alt.Scale(domain=[-3, 3]), title=None),
        color=colour, shape=shape, tooltip=tooltip)
    return alt.layer(whisker, box, median, points).properties(width=WIDTH, height=alt.Step(46)).configure_legend(
        labelLimit=160)


def table2_chart(dumbbell: pd.DataFrame, measure: str) -> alt.LayerChart:
    """Dumbbells: Ho & Kim's published value (black diamond) to the harness mean ± sd (colour = weights),
    one line per Table 2 row, the weights and number of runs written next to each harness point."""
    order = list(dict.fromkeys(dumbbell["label"]))
    runs = dumbbell[dumbbell["trials"] > 0].assign(
        note=lambda d: d["weights"] + " (n=" + d["trials"].astype(str) + ")")
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=300))
    x_scale = alt.Scale(zero=False, padding=12)
    offset = alt.YOffset("weights:N", title=None)
    weights = sorted(set(runs["weights"]))
    colour_scale = alt.Scale(domain=[PUBLISHED, *weights], range=["black", *(PALETTE * 3)[:len(weights)]])
    colour = alt.Color("weights:N", title=None, scale=colour_scale)
    published = alt.Chart(dumbbell.drop_duplicates("label").assign(weights=PUBLISHED)).mark_point(
        shape="diamond", size=110, filled=True).encode(
        x=alt.X("published:Q", title=measure, scale=x_scale), y=y, color=colour,
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
    # object dtype: with no harness rows the masked labels are all NaN, a float column without .str
    harness_labels = frame["label"].astype(object).where(frame["kind"] == "harness")
    data = frame.assign(strategy=harness_labels.astype(object).str.split(" / ").str[1])
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
    from review.plotting import MODALITY_COLORS, color_for

    modalities = sorted(set(data.loc[data["kind"] == "study", "group"]))
    modality = alt.Color("group:N", title="study modality", scale=alt.Scale(
        domain=modalities, range=[color_for(m, MODALITY_COLORS) for m in modalities]))
    panels = []
    for panel in dict.fromkeys(data["panel"]):
        part = data[data["panel"] == panel]
        studies = alt.Chart(part[part["kind"] == "study"]).mark_point(filled=True, size=70, opacity=0.85).encode(
            x=x, y=y, color=modality, tooltip=study_tip)
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
    # every study named: no label dropped for overlap, room for long study ids
    y = alt.Y("label:N", sort=alt.EncodingSortField("order"), title=None,
              axis=alt.Axis(labelOverlap=False, labelLimit=220))
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
    return alt.layer(ci, study, pooled, data=data).properties(width=WIDTH - 160, height=alt.Step(20)).facet(
        row=alt.Row("group:N", title=None, sort=list(dict.fromkeys(rows["group"])),
                    header=alt.Header(labelAngle=0, labelAlign="left", labelFontWeight="bold")),
        spacing=8).resolve_scale(y="independent")


def coefficients_chart(coefs: pd.DataFrame) -> alt.LayerChart:
    """Meta-regression coefficients (logit scale) with 95 % intervals; the dashed line is no effect."""
    y = alt.Y("term:N", sort=list(coefs["term"]), title=None, axis=alt.Axis(labelLimit=320))
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
    tip = [f"{c}:N" for c in ("trial_id", "backbone", "strategy", "weights", "device", "phase") if c in speed]
    tip += [alt.Tooltip("images_per_s:Q", format=",.1f", title="images/s"),
            alt.Tooltip("share_of_reference:Q", format=".1%", title="share of reference")]
    if "trials" in speed:
        tip.append(alt.Tooltip("trials:Q", title="trials (medians over)"))
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
    few = len(points) <= 500  # a handful of trials: big, solid marks; thousands: small, see-through
    dots = alt.Chart(points).mark_point(filled=True, size=70 if few else 26, opacity=0.9 if few else 0.45).encode(
        x=x, y=y, color=alt.Color("strategy:N", scale=alt.Scale(range=PALETTE)), shape=alt.Shape("weights:N"),
        tooltip=tip)
    front = alt.Chart(points[points["pareto"]]).mark_line(interpolate="step-after", color="black", strokeWidth=1.5,
                                                          point=alt.OverlayMarkDef(color="black", size=40)).encode(
        x=x, y=y, tooltip=tip)
    return alt.layer(dots, front).properties(width=WIDTH, height=360)


# ------------------------------------------------------------ Literature: the review's Figures 4 and 5
NOT_CODED_COLOUR = "#d9d9d9"


def _category_colours(order: list[str], known: dict[str, str] | None = None) -> alt.Scale:
    """A fixed colour per category ('not coded' light grey, 'many' mid grey), in the table's order."""
    range_, free = [], iter(PALETTE * 3)
    for value in order:
        if value == "not coded":
            range_.append(NOT_CODED_COLOUR)
        elif value == "many":
            range_.append("#a0a0a0")
        else:
            range_.append((known or {}).get(value) or next(free))
    return alt.Scale(domain=order, range=range_)


def _stacked_years(table: pd.DataFrame, field: str, title: str, known: dict[str, str] | None = None) -> alt.Chart:
    order = list(dict.fromkeys(table[field]))
    return alt.Chart(table).mark_bar().encode(
        x=alt.X("year:O", title=None), y=alt.Y("n:Q", title="studies"),
        color=alt.Color(f"{field}:N", sort=order, title=None, scale=_category_colours(order, known),
                        legend=alt.Legend(orient="right", labelLimit=150)),
        order=alt.Order("order:Q"), tooltip=["year:O", f"{field}:N", "n:Q"],
    ).transform_calculate(order=f"indexof({order!r}, datum['{field}'])").properties(
        width=230, height=170, title=alt.TitleParams(title, anchor="start", fontSize=12))


def figure4(tables: dict[str, pd.DataFrame]) -> alt.VConcatChart:
    """The review's Figure 4 from `review.summary.figure4_tables`: studies per year, and per year by backbone
    category, TL type and backbone family ('not coded' kept, so nothing disappears from a count)."""
    per_year = alt.Chart(tables["per_year"]).mark_bar(color="#4c78a8").encode(
        x=alt.X("year:O", title=None), y=alt.Y("n:Q", title="studies"), tooltip=["year:O", "n:Q"]).properties(
        width=230, height=170, title=alt.TitleParams("a. studies per year", anchor="start", fontSize=12))
    from review.plotting import FAMILY_COLORS

    return alt.vconcat(
        alt.hconcat(per_year, _stacked_years(tables["backbone_category"], "backbone_category",
                                             "b. backbone model category")).resolve_scale(color="independent"),
        alt.hconcat(_stacked_years(tables["tl_type"], "tl_type", "c. TL type"),
                    _stacked_years(tables["backbone_family"], "backbone_family", "d. backbone family",
                                   FAMILY_COLORS)).resolve_scale(color="independent"),
    ).resolve_scale(color="independent")


def figure5(tables: dict[str, pd.DataFrame]) -> alt.HConcatChart:
    """The review's Figure 5 from `review.summary.figure5_tables`: modality × subject, number of classes,
    data quantity (bins of the review's width)."""
    ms = tables["modality_subject"]
    heat = alt.Chart(ms).mark_rect().encode(
        x=alt.X("subject:N", title=None, axis=alt.Axis(labelAngle=-40, labelLimit=160, labelOverlap=False)),
        y=alt.Y("modality:N", title=None, axis=alt.Axis(labelOverlap=False)), color=alt.Color("n:Q", title="studies", scale=alt.Scale(scheme="blues")),
        tooltip=["modality:N", "subject:N", "n:Q"]).properties(
        width=alt.Step(24), height=alt.Step(20), title=alt.TitleParams("a. modality × subject", anchor="start",
                                                                       fontSize=12))
    text = alt.Chart(ms).mark_text(fontSize=9).encode(x="subject:N", y="modality:N", text="n:Q")
    classes = alt.Chart(tables["n_classes"]).mark_bar(color="#4c78a8").encode(
        x=alt.X("n_classes:O", title="number of classes"), y=alt.Y("n:Q", title="studies"),
        tooltip=["n_classes:O", "n:Q"]).properties(
        width=200, height=170, title=alt.TitleParams("b. number of classes", anchor="start", fontSize=12))
    sizes = tables["data_size"][tables["data_size"]["n"] > 0]
    quantity = alt.Chart(sizes).mark_bar(color="#4c78a8").encode(
        x=alt.X("bin_left:Q", bin="binned", title="data quantity (patients for CT/MRI/microscopy, else images)"),
        x2="bin_right:Q", y=alt.Y("n:Q", title="studies"), tooltip=["bin_left:Q", "bin_right:Q", "n:Q"]).properties(
        width=260, height=170, title=alt.TitleParams("c. data quantity", anchor="start", fontSize=12))
    return alt.hconcat(heat + text, alt.vconcat(classes, quantity))


# ------------------------------------------------------------ Experiments
def f1_heatmap(table: pd.DataFrame) -> alt.LayerChart:
    """Mean per-class F1 (rows = configuration, columns = OAP / IN / OBS), the value written in each cell."""
    long = table.reset_index(names="configuration").melt("configuration", var_name="class", value_name="f1")
    base = alt.Chart(long).encode(
        x=alt.X("class:N", sort=list(table.columns), title="class (test set)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("configuration:N", sort=list(table.index), title=None, axis=alt.Axis(labelLimit=320)))
    cells = base.mark_rect().encode(color=alt.Color("f1:Q", title="F1", scale=alt.Scale(scheme="viridis",
                                                                                        domain=[0, 1])),
                                    tooltip=["configuration:N", "class:N", alt.Tooltip("f1:Q", format=".3f")])
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("f1:Q", format=".2f"),
        color=alt.condition(alt.datum.f1 < 0.6, alt.value("white"), alt.value("black")))
    return (cells + text).properties(width=alt.Step(90), height=alt.Step(22))


def confusion(matrix, labels: tuple[str, ...]) -> alt.LayerChart:
    """Confusion matrix (rows = true class): count and row share in each cell, shade = row share."""
    import numpy as np

    matrix = np.asarray(matrix, dtype=float)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    names = list(labels)[: matrix.shape[0]]
    long = pd.DataFrame([{"true": names[r], "predicted": names[c], "count": int(matrix[r, c]),
                          "share": float(share[r, c])} for r in range(len(names)) for c in range(len(names))])
    base = alt.Chart(long).encode(x=alt.X("predicted:N", sort=names, axis=alt.Axis(labelAngle=0)),
                                  y=alt.Y("true:N", sort=names))
    cells = base.mark_rect().encode(color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                                                    title="row share"),
                                    tooltip=["true:N", "predicted:N", "count:Q", alt.Tooltip("share:Q", format=".0%")])
    text = base.transform_calculate(text="datum.count + ' (' + format(datum.share, '.0%') + ')'").mark_text(
        fontSize=11).encode(text="text:N", color=alt.condition(alt.datum.share > 0.6, alt.value("white"),
                                                                alt.value("black")))
    return (cells + text).properties(width=alt.Step(110), height=alt.Step(60))


def configuration_cost(board: pd.DataFrame, measure: str) -> alt.LayerChart:
    """Each configuration's mean wall time against its mean metric; the Pareto front as a step line."""
    data = board.assign(configuration=board["backbone"].astype(str) + " / " + board["strategy"].astype(str) + " / "
                        + board["weights"].astype(str))
    tip = ["configuration:N", alt.Tooltip("data_size:Q", title="training patients"),
           alt.Tooltip("cost:Q", format=",.1f", title="mean wall time (s)"),
           alt.Tooltip("mean:Q", format=".3f", title=f"mean {measure}"), alt.Tooltip("trials:Q"), "pareto:N"]
    x = alt.X("cost:Q", scale=alt.Scale(type="log"), title="mean wall time per trial (s, log)")
    y = alt.Y("mean:Q", title=f"mean {measure}", scale=alt.Scale(zero=False))
    dots = alt.Chart(data).mark_point(filled=True, size=60, opacity=0.85).encode(
        x=x, y=y, color=alt.Color("strategy:N", scale=alt.Scale(range=PALETTE)), shape=alt.Shape("weights:N"),
        tooltip=tip)
    front = data[data["pareto"]].sort_values("cost")
    line = alt.Chart(front).mark_line(interpolate="step-after", color="black", strokeWidth=1.2).encode(x=x, y=y)
    return alt.layer(line, dots).properties(width=WIDTH, height=340)


def learning_curves(curves: pd.DataFrame, measure: str) -> alt.FacetChart:
    """Mean metric (± sd over trials) against the number of training patients: one panel per backbone,
    colour = strategy, dashes = weights."""
    data = curves.assign(low=curves["mean"] - curves["std"].fillna(0.0),
                         high=curves["mean"] + curves["std"].fillna(0.0))
    tip = ["configuration:N", alt.Tooltip("data_size:Q", title="training patients"),
           alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("std:Q", format=".3f", title="sd"), "trials:Q"]
    colour = alt.Color("strategy:N", scale=alt.Scale(range=PALETTE))
    dash = alt.StrokeDash("weights:N")
    x = alt.X("data_size:Q", title="training patients", scale=alt.Scale(zero=False, nice=False, padding=8))
    y = alt.Y("mean:Q", title=f"{measure} (mean ± sd)", scale=alt.Scale(zero=False))
    line = alt.Chart().mark_line(point=True).encode(x=x, y=y, color=colour, strokeDash=dash,
                                                    detail="configuration:N", tooltip=tip)
    bars = alt.Chart().mark_rule(opacity=0.5).encode(x=x, y="low:Q", y2="high:Q", color=colour,
                                                     detail="configuration:N")
    return alt.layer(bars, line, data=data).properties(width=230, height=200).facet(
        facet=alt.Facet("backbone:N", title=None), columns=3)
