"""Literature: the review's coded studies, its Figures 4-6, Spearman results, PRISMA flow and audit."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import charts, sources, views, widgets
from review.plotting import MODALITY_COLORS, color_for

N_BOOT, SEED = 1000, 0
SELECTIONS = {"review": "the review's rule", "all": "every study with a data size"}


def spearman_chart(points: pd.DataFrame, studies: pd.DataFrame) -> alt.FacetChart:
    """Figure 6 as an interactive chart: one panel per metric, colour = modality, shape = TL type."""
    data = points.merge(studies[["study_id", "title", "year"]], on="study_id", how="left")
    modalities = sorted(data["modality"].unique())
    colour = alt.Scale(domain=modalities, range=[color_for(m, MODALITY_COLORS) for m in modalities])
    return alt.Chart(data).mark_point(filled=True, size=80).encode(
        x=alt.X("size:Q", scale=alt.Scale(type="log"), title="data per class (log)"),
        y=alt.Y("value:Q", scale=alt.Scale(zero=False), title="reported value", axis=alt.Axis(format=".2f")),
        color=alt.Color("modality:N", scale=colour), shape=alt.Shape("tl_type:N", title="TL type"),
        tooltip=["study_id", "title", "year", "modality", "tl_type", "backbone_family",
                 alt.Tooltip("size:Q", format=".1f"), alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=300, height=260).facet(column=alt.Column("metric:N", title=None)).resolve_scale(
        y="independent").interactive()

st.title("Literature")
st.caption("Kim et al. 2022, *Transfer learning for medical image classification: a literature review* "
           "(BMC Med Imaging 22:69), recomputed from the coded studies CSV. Values come from the CSV, each "
           "row with its source and evidence; rows not yet coded from their primary source show gaps.")

paths = widgets.current_paths()
studies = widgets.load(sources.studies, paths.studies)
if studies is None:
    st.stop()
if studies.empty:
    st.info(f"**{paths.studies}** has no studies yet: add one on the *Add a study* page or with `review add`.")
    st.stop()

# ------------------------------------------------------------------ filters
cb = sources.codebook()
years = pd.to_numeric(studies["year"], errors="coerce").dropna().astype(int)
lo, hi = int(years.min()), int(years.max())
cols = st.columns([2, 2, 2, 2, 2])
year_range = cols[0].slider("year", lo, max(hi, lo + 1), (lo, max(hi, lo + 1)), key="lit_years")
chosen = {}
for col, name, label in zip(cols[1:], ("modality", "subject", "backbone_family", "tl_type"),
                            ("modality", "subject", "backbone family", "TL type")):
    present = set(studies[name].dropna())
    options = [v for v in cb.vocabulary(name) if v in present] or sorted(present)
    chosen[name] = tuple(col.multiselect(label, options, key=f"lit_{name}", placeholder="all"))
study_filter = views.StudyFilter(years=tuple(year_range), **chosen)
shown = study_filter.apply(studies)
coded = int(shown["backbone_category"].notna().sum())
st.write(f"**{len(shown)}** of {len(studies)} studies match the filters; {coded} of them have a coded backbone. "
         "Filters that need a coded value drop studies where it is missing.")
if len(shown) and coded < len(shown) / 2:
    st.caption(f"Most of these studies are not coded yet ({len(shown) - coded} without a backbone): the figures "
               "count them as *not coded*. Rows gain values as they are coded from their primary sources "
               "(`review add`, or the *Add a study* page for new studies).")

# lazy tabs: only the open one runs, so the first visit does not pay for every figure at once
tab_fig, tab_sp, tab_prisma, tab_audit, tab_table = st.tabs(
    ["Figures 4 and 5", "Figure 6: Spearman", "PRISMA flow", "Audit: published vs recomputed", "Studies"],
    key="lit_tab", on_change="rerun", bind="query-params")

if tab_fig.open:
    with tab_fig:
        st.caption("Recomputed by `review summary` from the filtered studies; uncoded values are counted as "
                   "'not coded' so nothing disappears silently.")
        tables = widgets.load(sources.summary_tables, shown)
        if tables is not None:
            st.markdown("**Figure 4**: studies per year, backbone, TL type")
            st.altair_chart(widgets.chart("figure4", {k.removeprefix("fig4_"): v for k, v in tables.items()}))
            widgets.downloads("figure4", shown, stem="figure4")
            st.markdown("**Figure 5**: modality and subject, classes, data quantity")
            st.altair_chart(widgets.chart("figure5", {k.removeprefix("fig5_"): v for k, v in tables.items()}))
            widgets.downloads("figure5", shown, stem="figure5")
            st.caption("Hover a bar or cell for its count. PNG and SVG give the review-style figures "
                       "(`review summary`) for a report.")
            names = list(tables)
            pick = st.selectbox("table behind the figures", names, key="lit_summary_table")
            widgets.table(tables[pick], stem=pick.replace("_", "-"))

if tab_sp.open:
    with tab_sp:
        st.caption("Data quantity per class (patients for CT/MRI/microscopy) against the reported AUC and accuracy, "
                   f"Spearman r and p with {N_BOOT} bootstrap resamples (seed {SEED}) for 95 % intervals, under both "
                   "selections: the review's (one backbone model, one TL type, one modality; benchmarks and minor "
                   "models excluded) and every study with a data size. r needs 3 studies, p and the interval 5. "
                   "Computed on the filtered studies.")
        analyses = {sel: widgets.load(sources.spearman, shown, N_BOOT, SEED, sel) for sel in SELECTIONS}
        if all(a is not None for a in analyses.values()):
            results = pd.DataFrame([r.to_dict() for a in analyses.values() for r in a.results.values()])
            published = widgets.load(sources.published_spearman)
            if published is not None:  # the review's own r and p next to the recomputed ones
                results = results.merge(published, on="metric", how="left")
            first = [c for c in ("selection", "metric", "n", "r", "p", "ci_low", "ci_high", "published_r",
                                 "published_p", "note") if c in results]
            widgets.table(results[first + [c for c in results.columns if c not in first]], stem="spearman-results",
                          column_config={c: st.column_config.NumberColumn(c, format="%.3f")
                                         for c in ("r", "p", "ci_low", "ci_high", "published_r", "published_p")})
            selection = st.segmented_control("selection shown", list(SELECTIONS), default="review",
                                             format_func=SELECTIONS.get, key="lit_sp_selection") or "review"
            analysis = analyses[selection]
            excl = analysis.excluded_counts()
            st.write(f"Kept **{len(analysis.subset)}** studies; excluded: "
                     + (", ".join(f"{k} {v}" for k, v in excl.items() if v) or "none") + ".")
            if len(analysis.points):
                st.altair_chart(spearman_chart(analysis.points, shown))
                st.caption("Hover a point for the study; scroll to zoom. The buttons give the review-style "
                           "Figure 6 for this selection.")
            else:
                st.info("No kept study has both a data size and a performance value.")
            widgets.downloads("spearman_figure", shown, N_BOOT, SEED, selection, stem=f"fig6-spearman-{selection}")

if tab_prisma.open:
    with tab_prisma:
        st.caption("The review's flow counts (whole review, not filtered), in the PRISMA2020 template format.")
        result = widgets.load(sources.prisma, paths.prisma, len(studies))
        if result is not None:
            _, checks = result
            bad = checks[checks["ok"] == False]  # noqa: E712 - ok is True / False / None
            if len(bad):
                st.warning("The published counts fail these arithmetic checks: " + "; ".join(f"{r['name']} ({r['detail']})"
                                                                     for _, r in bad.iterrows()))
            widgets.table(checks, stem="prisma-checks")
            path, mtime, _ = sources.stamp(paths.prisma)
            widgets.figure("prisma_diagram", path, mtime, len(studies), stem="prisma-flow")

if tab_audit.open:
    with tab_audit:
        st.caption("Every number the review publishes about its studies next to the value recomputed from the "
                   "whole CSV (not filtered), with the difference and how many rows had the field.")
        audited = widgets.load(sources.audit, studies)
        if audited is not None:
            table, checks = audited
            first = [c for c in ("label", "published", "recomputed", "difference", "status") if c in table]
            widgets.table(table[first + [c for c in table.columns if c not in first]], stem="audit")
            st.markdown("**The published numbers checked against each other** (no CSV needed)")
            bad = checks[checks["ok"] == False]  # noqa: E712
            if len(bad):
                st.warning(f"{len(bad)} published number(s) are inconsistent: "
                         + "; ".join(f"{r['name']} ({r['detail']})" for _, r in bad.iterrows()))
            widgets.table(checks, stem="published-consistency")

if tab_table.open:
    with tab_table:
        table = shown.copy()
        table["doi_link"] = table["doi"].map(lambda d: f"https://doi.org/{d}" if isinstance(d, str) and d else None)
        first = ["study_id", "year", "title", "doi_link", "source_url", "evidence", "confidence", "coded_by"]
        table = table[first + [c for c in table.columns if c not in first]]
        widgets.table(table, stem="studies", column_config={
            "doi_link": st.column_config.LinkColumn("DOI", display_text=r"https://doi\.org/(.*)"),
            "source_url": st.column_config.LinkColumn("source"),
            "year": st.column_config.NumberColumn("year", format="%d")})
