"""Experiments: the harness's finished trials — leaderboard, per-class F1, confusion, cost, data size."""
from __future__ import annotations

import streamlit as st

from dashboard import charts, sources, views, widgets

METRICS = {"accuracy": "accuracy", "soft_accuracy": "soft accuracy",
           "auc_weighted": "AUC, class-weighted (Ho & Kim's 'micro')", "auc_macro": "AUC, macro",
           "f1_OAP": "F1 OAP", "f1_IN": "F1 IN", "f1_OBS": "F1 OBS"}
SWEEP_HINT = ("Run a sweep to fill it: `harness sweep configs/quick.yaml` (a few minutes on 2 CPU cores), "
              "then reload this page. To look at another store, set `TLMI_RESULTS` or the sidebar path.")

st.title("Experiments")
st.caption("Finished harness trials. Every number is a test-set result of one trial; the `weights` column "
           "says which starting weights it used (only `imagenet` rows are ImageNet transfer).")

paths = widgets.current_paths()
try:
    trials = sources.trials(paths.results)
except sources.MissingSource:
    st.info(f"No harness results yet at **{paths.results}**.\n\n{SWEEP_HINT}")
    st.stop()
except (sources.SourceError, sources.Unavailable) as exc:
    widgets.show_problem(exc)
    st.stop()

trials, failed = views.split_status(trials)
if len(failed):
    with st.expander(f"{len(failed)} trial(s) failed and are not shown; see why", icon=":material/warning:"):
        widgets.table(failed[["trial_id", "backbone", "strategy", "weights", "error_summary", "store"]],
                      stem="failed-trials", column_config={"error_summary": st.column_config.TextColumn("error")})
if trials.empty:
    st.info(f"**{paths.results}** has no finished trials yet.\n\n{SWEEP_HINT}")
    st.stop()

# ------------------------------------------------------------------ filters
cols = st.columns(5)
chosen = {}
for col, name in zip(cols, ("backbone", "strategy", "weights", "dataset")):
    options = sorted(trials[name].astype(str).unique())
    chosen[name] = tuple(col.multiselect(name, options, key=f"exp_{name}", placeholder="all"))
available = [m for m in METRICS if m in trials and trials[m].notna().any()]
if not available:
    st.error(f"**{paths.results}**: no trial has any of the metrics {list(METRICS)}.")
    st.stop()
metric = cols[4].selectbox("metric", available, format_func=METRICS.get, key="exp_metric")
shown = views.TrialFilter(**chosen).apply(trials)
st.write(f"**{len(shown)}** of {len(trials)} trials match the filters.")
if shown.empty:
    st.warning("No trial matches these filters; clear one of them.")
    st.stop()

# -------------------------------------------------------------- leaderboard
st.subheader(f"Leaderboard by {METRICS[metric]}")
board = views.leaderboard(shown, metric)
widgets.table(board, stem=f"leaderboard-{metric}", column_config={
    "mean": st.column_config.NumberColumn(f"mean {metric}", format="%.3f"),
    "std": st.column_config.NumberColumn("sd", format="%.3f"),
    "data_size": st.column_config.NumberColumn("training patients", format="%d"),
    "mean_wall_time_s": st.column_config.NumberColumn("mean wall time (s)", format="%.1f")})

# lazy tabs: only the open one runs
tab_f1, tab_cm, tab_cost, tab_curve, tab_all = st.tabs(
    ["Per-class F1", "Confusion matrices", "Cost vs performance", "Learning curves", "All trials"],
    key="exp_tab", on_change="rerun", bind="query-params")
if tab_f1.open:
    with tab_f1:
        f1 = views.per_class_f1(shown)
        if f1.empty:
            st.info("No trial has per-class F1.")
        else:
            st.altair_chart(charts.f1_heatmap(f1))
            widgets.downloads("f1_heatmap", f1, stem="per-class-f1")
        widgets.table(f1.reset_index(names="configuration"), stem="per-class-f1",
                      column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in f1.columns})
if tab_cm.open:
    with tab_cm:
        configs = board[[c for c in views.GROUP if c in board]].astype(str).agg(" / ".join, axis=1).tolist()
        pick = st.selectbox("configuration (backbone / strategy / weights / dataset / training patients)",
                            range(len(configs)), format_func=lambda i: configs[i], key="exp_cm")
        key = board.iloc[pick]
        sel = shown
        for c in views.GROUP:
            if c in board:
                sel = sel[sel[c].astype(str) == str(key[c])]
        matrix = views.confusion_total(sel)
        if matrix is None:
            st.info("These trials stored no confusion matrix.")
        else:
            st.altair_chart(charts.confusion(matrix, views.CLASSES))
            st.caption(f"{configs[pick]}: {len(sel)} trial(s), test-set counts summed; rows are the true class.")
            widgets.downloads("confusion", matrix, title=f"{configs[pick]}\n({len(sel)} trial(s), summed)",
                              stem=f"confusion-{widgets.slug(configs[pick])}")
if tab_cost.open:
    with tab_cost:
        front = views.cost_vs_metric(shown, metric)
        if front.empty:
            st.info("No trial has both a wall time and this metric.")
        else:
            st.altair_chart(charts.configuration_cost(front, METRICS[metric]))
            widgets.downloads("cost_vs_metric", front, metric, stem=f"cost-vs-{metric}")
        st.caption("Cost = mean wall time of a trial (all phases), per configuration. The configurations joined by "
                   "the black steps (`pareto` in the table) are Pareto-optimal: nothing else is both cheaper and "
                   "better.")
        widgets.table(front, stem=f"cost-vs-{metric}")
if tab_curve.open:
    with tab_curve:
        curves = views.learning_curves(shown, metric)
        if curves.empty:
            st.info("No trial records its number of training patients.")
        elif curves["data_size"].nunique() < 2:
            st.info(f"Every trial shown used {int(curves['data_size'].iloc[0])} training patients: a learning curve "
                    "needs at least two sizes (list several in the sweep grid's `train_patients`).")
        else:
            st.altair_chart(charts.learning_curves(curves, METRICS[metric]))
            widgets.downloads("learning_curves", curves, metric, stem=f"learning-curves-{metric}")
        widgets.table(curves, stem=f"learning-curves-{metric}")
if tab_all.open:
    with tab_all:
        st.caption("Every trial with its configuration, versions, seed and machine as the store recorded them.")
        widgets.table(shown.drop(columns=["confusion"]), stem="trials")
