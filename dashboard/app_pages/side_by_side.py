"""Side by side: what the literature used and reported next to what the harness measured and cost."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import sources, views, widgets
from review.plotting import MODALITY_COLORS, color_for

SWEEP_HINT = "Run `harness sweep configs/quick.yaml` to add your own measurements here."

st.title("Side by side")
st.caption("The review's coded studies (Kim et al. 2022, from the studies CSV) next to your harness trials. "
           "Harness strategies are mapped to the review's TL types (feature_extractor → feature "
           "extractor, hybrid → feature extractor hybrid, partial_finetune → fine-tuning, full_finetune → "
           "fine-tuning from scratch) and backbones to its families (VGG, Inception, ResNet, Inception-ResNet, "
           "AlexNet; everything else → other).")

paths = widgets.current_paths()
studies = widgets.load(sources.studies, paths.studies)
try:
    trials, _ = views.split_status(sources.trials(paths.results))
except sources.MissingSource:
    st.info(f"No harness results yet at **{paths.results}**: only the literature is shown. {SWEEP_HINT}")
    trials = sources.trials_frame([])
except (sources.SourceError, sources.Unavailable) as exc:
    widgets.show_problem(exc)
    trials = sources.trials_frame([])
if studies is None:
    studies = pd.DataFrame(columns=["study_id", "title", "year", "modality", "tl_type", "backbone_family",
                                    "accuracy", "auc", "n_images", "n_patients", "n_classes"])

metric = st.radio("performance measure", ["accuracy", "auc_weighted"], horizontal=True, key="sbs_metric",
                  format_func={"accuracy": "accuracy",
                               "auc_weighted": "AUC (harness: class-weighted one-vs-rest)"}.get)
lit_metric = "auc" if metric.startswith("auc") else "accuracy"

# ------------------------------------------------ usage and reported performance
measure = "AUC" if metric.startswith("auc") else "accuracy"
st.subheader("How often the literature used each option, what it reported, what the harness measured")
st.caption(f"`lit_` columns: the {len(studies)} studies of the CSV (share = of all of them, coded or not; "
           f"median {measure} over the `lit_n_reporting` studies that reported it). `harness_` columns: your "
           f"finished trials, their {measure} and their mean wall time per trial.")
for by, label in (("tl_type", "TL type"), ("backbone_family", "backbone family")):
    st.markdown(f"**By {label}**")
    table = views.side_by_side(studies, trials, by, metric)
    widgets.table(table, stem=f"side-by-side-{by}-{metric}", column_config={
        by: st.column_config.TextColumn(label),
        "lit_studies": st.column_config.NumberColumn("lit. studies"),
        "lit_share": st.column_config.NumberColumn("lit. share", format="percent"),
        f"lit_median_{lit_metric}": st.column_config.NumberColumn(f"lit. median {measure}", format="%.3f"),
        "lit_n_reporting": st.column_config.NumberColumn("lit. n reporting"),
        "harness_trials": st.column_config.NumberColumn("harness trials"),
        f"harness_mean_{metric}": st.column_config.NumberColumn(f"harness mean {measure}", format="%.3f"),
        f"harness_best_{metric}": st.column_config.NumberColumn(f"harness best {measure}", format="%.3f"),
        "harness_mean_wall_time_s": st.column_config.NumberColumn("harness mean time (s)", format="%.1f")})
st.caption("Literature values are each study's best reported test result on its own task and data; harness "
           "values are test results on the cardiac slice-range task. Read them as context, not as a "
           "like-for-like comparison.")

# ------------------------------------------------------------ scatter
st.subheader("Your runs on the literature's data size vs performance scatter")
lit_points = views.literature_points(studies, lit_metric)
runs = views.harness_scatter_points(trials, metric)
RUNS = "your harness runs"
points = pd.concat([
    lit_points.assign(kind="study", group=lit_points["modality"], label=lit_points["title"]),
    runs.assign(kind="your run", group=RUNS),
], ignore_index=True)
if points.empty:
    st.info("Nothing to plot yet: no study has data size, number of classes and this measure coded, "
            f"and there are no harness runs. {SWEEP_HINT}")
else:
    groups = sorted(set(points["group"]) - {RUNS})
    colours = alt.Scale(domain=[*groups, RUNS], range=[color_for(g, MODALITY_COLORS) for g in groups] + ["#000000"])
    chart = alt.Chart(points).mark_point(filled=True, size=80, opacity=0.85).encode(
        x=alt.X("data_per_class:Q", scale=alt.Scale(type="log"),
                title="data per class (patients for CT/MRI/microscopy, else images; log)"),
        y=alt.Y("value:Q", title=lit_metric, scale=alt.Scale(zero=False)),
        color=alt.Color("group:N", title="modality / runs", scale=colours),
        shape=alt.Shape("kind:N", title="", scale=alt.Scale(domain=["study", "your run"],
                                                            range=["circle", "diamond"])),
        tooltip=["kind", "label", "group", alt.Tooltip("data_per_class:Q", format=".1f"),
                 alt.Tooltip("value:Q", format=".3f")])
    st.altair_chart(chart.interactive())
    st.caption(f"{len(lit_points)} studies with data size and {lit_metric}; {len(runs)} harness configurations "
               "(a run on N training patients sits at N / 3 patients per class, the review's MRI rule). "
               "Hover a point for the study or run; scroll to zoom. The buttons give the same plot as a figure.")
    widgets.downloads("literature_scatter", lit_points, runs, lit_metric, stem=f"data-size-vs-{lit_metric}")

# ------------------------------------------------------------ Table 2
st.subheader("Ho & Kim 2021, Table 2: published vs the harness's reproduction")
table2 = widgets.load(sources.table2, paths.table2)
if table2 is not None:
    comparison = views.table2_comparison(table2, trials)
    matched = int((comparison["harness_trials"] > 0).sum())
    st.write(f"{matched} of {len(comparison)} Table 2 rows have a matching harness run "
             "(same backbone; depth 0 → feature_extractor, depth 1 → partial_finetune, CBR → full_finetune).")
    if matched == 0:
        st.info(f"No harness run matches a Table 2 row yet. `configs/ho-kim-2021.yaml` runs the paper's "
                f"protocol; {SWEEP_HINT}")
    weights = comparison.loc[comparison["harness_trials"] > 0, "harness_weights"]
    if matched and not weights.str.fullmatch("imagenet").all():
        st.warning("Some matched runs did not start from ImageNet weights (see `harness_weights`): Ho & Kim used "
                   "ImageNet, so those differences measure a different starting point, not a failed reproduction.")
    shown_metric = st.selectbox("Table 2 column", views.TABLE2_METRICS, index=4, key="sbs_t2_metric")
    compact = comparison[["model", "depth", "strategy", "harness_trials", "harness_weights", "harness_datasets",
                          f"{shown_metric}_published", f"{shown_metric}_harness", f"{shown_metric}_diff"]]
    st.dataframe(compact, hide_index=True, column_config={
        "harness_trials": st.column_config.NumberColumn("runs"),
        "harness_weights": st.column_config.TextColumn("weights"),
        "harness_datasets": st.column_config.TextColumn("dataset"),
        f"{shown_metric}_published": st.column_config.NumberColumn("published", format="%.2f"),
        f"{shown_metric}_harness": st.column_config.NumberColumn("harness (mean)", format="%.3f"),
        f"{shown_metric}_diff": st.column_config.NumberColumn("harness − published", format="%+.3f")})
    widgets.csv_button(comparison, "ho-kim-2021-table2-vs-harness", label="CSV (every column)")
    if matched:
        widgets.figure("table2_differences", comparison, views.TABLE2_METRICS, stem="table2-differences")
    st.caption(f"Published values: {table2['source'].iloc[0]}. The paper's AUC column is its 'micro-averaged "
               "AUC', computed as the class-frequency-weighted mean of one-vs-rest AUCs (= harness auc_weighted).")
