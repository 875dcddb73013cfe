"""Side by side: what the literature reported next to what the harness measured, as charts.

Tabs (lazy: only the open one runs, each linkable as ?sbs_tab=...): per TL
strategy; Ho & Kim Table 2 against the harness; data size; meta-analysis;
cost; the usage tables. Chart data comes from `dashboard.views`, charts from
`dashboard.charts`.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, sources, views, widgets

SWEEP_HINT = "Run `harness sweep configs/quick.yaml` to add your own measurements here."
MEASURES = {"accuracy": "accuracy", "auc_weighted": "AUC (harness: class-weighted one-vs-rest)"}
#: review.meta's moderator terms, in words
MODERATORS = {"tl_type": "TL type", "backbone_category": "backbone category", "modality": "modality",
              "year": "publication year", "log10_images": "log10 number of images"}
MAX_THROUGHPUT_MARKS = 4000  # above this, one mark per configuration and phase (the browser stays quick)
TABS = ["By TL strategy", "Ho & Kim Table 2", "Data size", "Meta-analysis", "Cost", "Tables"]

st.title("Side by side")
st.caption("The review's coded studies (Kim et al. 2022, from the studies CSV) next to your harness trials. "
           "Harness strategies map to the review's TL types: feature_extractor → feature extractor, hybrid_* → "
           "feature extractor hybrid, partial_finetune → fine-tuning, full_finetune → fine-tuning from scratch. "
           "Literature values are each study's best reported test result on its own task and data; harness values "
           "are test results on the cardiac slice-range task: context, not a like-for-like comparison.")

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
                                    "accuracy", "auc", "n_images", "n_patients", "n_classes", "source_url"])

metric = st.radio("performance measure", list(MEASURES), horizontal=True, key="sbs_metric", format_func=MEASURES.get)
lit_measure = views.literature_measure(metric)
label = "AUC" if lit_measure == "auc" else "accuracy"
reporting = int(pd.to_numeric(studies.get(lit_measure), errors="coerce").notna().sum()) if len(studies) else 0
st.write(f"**{reporting}** of {len(studies)} studies report {label}; **{int(trials[metric].notna().sum())}** finished "
         f"harness trials have it.")

tab_tl, tab_t2, tab_size, tab_meta, tab_cost, tab_tables = st.tabs(TABS, key="sbs_tab", on_change="rerun",
                                                                   bind="query-params")

# ------------------------------------------------------------------ per TL strategy
if tab_tl.open:
    with tab_tl:
        values = views.strategy_values(studies, trials, metric)
        if values.empty:
            st.info(f"Nothing to compare yet: no study with a TL type reports {label}, and no harness trial. "
                    + SWEEP_HINT)
        else:
            summary = views.strategy_summary(values)
            st.altair_chart(charts.strategy_chart(values, summary, label))
            st.caption(f"Each grey circle is a study (its best reported {label}); each coloured mark a harness "
                       "trial (colour = backbone, shape = starting weights); boxes span the quartiles, lines "
                       "the range, the dark tick is the median. Points are spread vertically only to be visible. "
                       "Hover for the study, its data size and source, or the trial's configuration.")
            widgets.table(summary, stem=f"by-tl-strategy-summary-{metric}", column_config={
                c: st.column_config.NumberColumn(c, format="%.3f") for c in ("median", "q1", "q3", "min", "max")})
            widgets.csv_button(values, f"by-tl-strategy-points-{metric}", label="CSV (every point)")

# ------------------------------------------------------------------ Table 2
if tab_t2.open:
    with tab_t2:
        table2 = widgets.load(sources.table2, paths.table2)
        if table2 is not None:
            comparison = views.table2_comparison(table2, trials)
            matched = comparison.loc[comparison["harness_trials"] > 0, "label"].nunique()
            st.write(f"**{matched}** of {comparison['label'].nunique()} Table 2 rows have a matching harness run "
                     "(same backbone; depth 0 → feature_extractor, depth 1 → partial_finetune, CBR → "
                     "full_finetune), split by the weights the runs started from.")
            if matched == 0:
                st.info("No harness run matches a Table 2 row yet. `configs/ho-kim-2021.yaml` runs the paper's "
                        f"protocol; {SWEEP_HINT}")
            weights = comparison.loc[comparison["harness_trials"] > 0, "harness_weights"]
            if matched and not (weights == "imagenet").all():
                st.warning("Some matched runs did not start from ImageNet weights (named on the chart): Ho & Kim "
                           "used ImageNet, so those differences measure a different starting point, not a failed "
                           "reproduction.")
            default = views.TABLE2_METRICS.index("auc_weighted" if lit_measure == "auc" else "accuracy")
            left, right = st.columns([2, 3])
            column = left.selectbox("Table 2 column", views.TABLE2_METRICS, index=default, key="sbs_t2_metric")
            every = right.checkbox("every Table 2 row (also those without a harness run)", value=not matched,
                                   key="sbs_t2_all")
            dumbbell = views.table2_dumbbell(comparison, column)
            drawn = dumbbell if every else dumbbell[dumbbell["label"].isin(
                dumbbell.loc[dumbbell["trials"] > 0, "label"])]
            st.altair_chart(charts.table2_chart(drawn, column))
            st.caption("Black diamond: the value Ho & Kim 2021 print in Table 2. Coloured point and bar: the "
                       "harness's mean ± sd over its runs (seeds) for that backbone and depth, one per starting "
                       "weights, with the weights and number of runs written beside it.")
            widgets.table(dumbbell, stem=f"table2-vs-harness-{column}", column_config={
                c: st.column_config.NumberColumn(c, format="%.3f")
                for c in ("published", "harness", "sd", "diff", "low", "high")})
            widgets.csv_button(comparison, "ho-kim-2021-table2-vs-harness", label="CSV (every Table 2 column)")
            if matched:
                widgets.downloads("table2_differences", comparison, views.TABLE2_METRICS,
                                  stem="table2-differences")
            st.caption(f"Published values: {table2['source'].iloc[0]}. The paper's AUC column is its "
                       "'micro-averaged AUC', computed as the class-frequency-weighted mean of one-vs-rest AUCs "
                       "(= harness auc_weighted).")

# ------------------------------------------------------------------ data size
if tab_size.open:
    with tab_size:
        selections = widgets.load(sources.figure6_points, studies, lit_measure)
        if selections is not None:
            titled = {f"{name}: {sources.FIGURE6_SELECTIONS[name]} (n = {len(points)})": points
                      for name, points in selections.items()}
            frame = views.size_performance(titled, trials, metric)
            if frame.empty:
                st.info(f"Nothing to plot: no study has a data size and {label}, and no harness run has a "
                        f"number of training patients. {SWEEP_HINT}")
            else:
                st.altair_chart(charts.size_chart(frame, label))
                st.caption("Left: the studies Figure 6 of the review keeps; right: every study with a data size "
                           f"and {label}. Lines: your harness's learning curves (mean ± sd over trials per "
                           "configuration), N training patients of the 3-class task drawn at N / 3 per class, the "
                           "review's unit for MRI. Hover for the study or configuration. The PNG and SVG buttons "
                           "give the same comparison as a static figure for a report.")
                widgets.csv_button(frame, f"data-size-vs-{lit_measure}", label="CSV (every point)")
                runs = views.harness_scatter_points(trials, metric) if len(trials) else pd.DataFrame(
                    columns=["data_per_class", "value"])
                widgets.downloads("literature_scatter", views.literature_points(studies, lit_measure), runs,
                                  lit_measure, stem=f"data-size-vs-{lit_measure}")

# ------------------------------------------------------------------ meta-analysis
if tab_meta.open:
    with tab_meta:
        st.caption(f"Random-effects meta-analysis of the reported {label} on the logit scale (`review meta`, REML), "
                   "which needs each study's test-set size (`n_test`); studies without it are left out and listed.")
        try:
            overall, overall_studies = sources.meta(studies, lit_measure)
        except sources.Unavailable as exc:
            st.info(f"The meta-analysis cannot run here: {exc}.")
            overall = None
        if overall is not None and overall["pooled"]["estimate"] is None:
            st.info(f"No pooled estimate of {label}: {overall['message']}.")
        elif overall is not None:
            pooled = {"all studies": (overall, overall_studies)}
            skipped = []
            for tl in views.TL_TYPES:
                result, per_study = sources.meta(studies[studies["tl_type"] == tl], lit_measure)
                if result["pooled"]["estimate"] is None:
                    skipped.append(f"{tl} (k = {result['k']})")
                else:
                    pooled[tl] = (result, per_study)
            rows = views.forest_rows(pooled)
            st.altair_chart(charts.forest_chart(rows, f"{label} (random effects, 95 % CI)"))
            est = overall["pooled"]
            st.caption(f"All studies: k = {overall['k']}, pooled {label} {est['estimate']:.3f} "
                       f"[{est['ci_low']:.3f}, {est['ci_high']:.3f}], τ² = {overall['tau2']:.3f}, "
                       f"I² = {overall['i2']:.1f} %. Squares: studies (size = weight), lines: 95 % intervals, "
                       "diamonds: pooled estimates. "
                       + (f"Too few studies to pool: {'; '.join(skipped)}." if skipped else ""))
            widgets.csv_button(rows, f"forest-{lit_measure}", label="CSV (forest plot rows)")
            widgets.downloads("meta_forest", studies, lit_measure, stem=f"forest-{lit_measure}")

            moderator = st.selectbox("moderator (meta-regression)", list(MODERATORS), format_func=MODERATORS.get,
                                     key="sbs_moderator")
            result, _ = sources.meta(studies, lit_measure, (moderator,))
            if not result["coefficients"]:
                st.info(f"No meta-regression on {MODERATORS[moderator]}: {result['message']}.")
            else:
                coefs = views.coefficients(result)
                st.altair_chart(charts.coefficients_chart(coefs))
                reference = result["reference_levels"].get(moderator)
                st.caption(f"k = {result['k']} studies with {label}, n_test and {MODERATORS[moderator]}; residual "
                           f"τ² = {result['tau2']:.3f}, I² = {result['i2']:.1f} %. Coefficients on the logit scale"
                           + (f"; each level is compared with '{reference}'." if reference else ".")
                           + " The dashed line is no effect.")
                spare = result["k"] - len(result["coefficients"])
                if spare < 5:
                    st.warning(f"{result['k']} studies for {len(result['coefficients'])} coefficients leave "
                               f"{spare} residual degree(s) of freedom: these estimates rest on very few studies "
                               "and may not hold as more are coded.")
                widgets.table(coefs, stem=f"meta-regression-{lit_measure}-{moderator}", column_config={
                    c: st.column_config.NumberColumn(c, format="%.3f") for c in ("estimate", "se", "ci_low",
                                                                                 "ci_high", "p")})
        if overall is not None:
            excluded = pd.DataFrame(overall.get("excluded") or [], columns=["study_id", "reason"])
            if len(excluded):
                with st.expander(f"{len(excluded)} studies left out of the pooling, and why"):
                    widgets.table(excluded, stem=f"meta-excluded-{lit_measure}")

# ------------------------------------------------------------------ cost
if tab_cost.open:
    with tab_cost:
        if trials.empty:
            st.info(f"No finished harness trials yet. {SWEEP_HINT}")
        else:
            speed = views.throughput(trials)
            st.markdown("**Throughput per phase**")
            if speed.empty:
                st.info("These trials carry no per-phase throughput (`timings.throughput`, recorded by newer "
                        "harness versions); run a sweep again to measure it.")
            else:
                many = len(speed) > MAX_THROUGHPUT_MARKS
                shown_speed = views.throughput_by_configuration(speed) if many else speed
                st.altair_chart(charts.throughput_chart(shown_speed))
                st.caption(("Each mark is the median over the trials of one configuration in one phase"
                            if many else "Each mark is one trial in one phase")
                           + ": images per second, and that speed as a share of the published reference throughput "
                           "for the same backbone on the same kind of device (empty when there is no reference)."
                           + (f" ({len(speed):,} trial-phases; the CSV has every one.)" if many else ""))
                widgets.csv_button(speed, "throughput", label="CSV (throughput, every trial)")
            st.markdown("**Wall time against performance**")
            points = views.cost_points(trials, metric)
            if points.empty:
                st.info("No trial has both a wall time and this measure.")
            else:
                st.altair_chart(charts.cost_chart(points, label))
                st.caption(f"Each mark is one trial; the black steps join the {int(points['pareto'].sum())} trials "
                           f"on the Pareto front (nothing else is both faster and better).")
                widgets.table(points[points["pareto"]], stem=f"pareto-front-{metric}", column_config={
                    "data_size": st.column_config.NumberColumn("training patients"),
                    "cost": st.column_config.NumberColumn("wall time (s)", format="%.1f"),
                    "value": st.column_config.NumberColumn(label, format="%.3f")})

# ------------------------------------------------------------------ tables
if tab_tables.open:
    with tab_tables:
        st.caption(f"`lit_` columns: the {len(studies)} studies of the CSV (share = of all of them, coded or not; "
                   f"median {label} over the `lit_n_reporting` studies that reported it). `harness_` columns: your "
                   f"finished trials, their {label} and their mean wall time per trial.")
        for by, title in (("tl_type", "TL type"), ("backbone_family", "backbone family")):
            st.markdown(f"**By {title}**")
            table = views.side_by_side(studies, trials, by, metric)
            widgets.table(table, stem=f"side-by-side-{by}-{metric}", column_config={
                by: st.column_config.TextColumn(title),
                "lit_studies": st.column_config.NumberColumn("lit. studies"),
                "lit_share": st.column_config.NumberColumn("lit. share", format="percent"),
                f"lit_median_{lit_measure}": st.column_config.NumberColumn(f"lit. median {label}", format="%.3f"),
                "lit_n_reporting": st.column_config.NumberColumn("lit. n reporting"),
                "harness_trials": st.column_config.NumberColumn("harness trials"),
                f"harness_mean_{metric}": st.column_config.NumberColumn(f"harness mean {label}", format="%.3f"),
                f"harness_best_{metric}": st.column_config.NumberColumn(f"harness best {label}", format="%.3f"),
                "harness_mean_wall_time_s": st.column_config.NumberColumn("harness mean time (s)", format="%.1f")})
