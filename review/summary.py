"""Figures 4 and 5 of Kim et al. 2022, recomputed from the studies CSV.

Figure 4: studies per year (a), backbone model (b) and TL type (c), overall
and per year; the backbone family counts of the Results text are added as
panel (d). Figure 5: modality x subject (a), number of classes (b) and a
histogram of data quantity (c; bins of 600, the review's first bin being
"0 to 600").

All tables are tidy (one row per combination, column ``n``). Values that are
not coded appear as ``"not coded"`` so that nothing silently disappears from a
count; Figure 5a leaves out studies whose modality or subject is ``many``, as
the review does ("the experiment was conducted with multiple subjects ...").
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from review.spearman import data_quantity

NOT_CODED = "not coded"
FIG4_FIELDS: tuple[str, ...] = ("backbone_category", "backbone_family", "tl_type")
DEFAULT_BIN_WIDTH = 600
MAX_BARS = 20  # Figure 5c: bins beyond the 20th are drawn as one ">= ..." bar


def _vocabulary(field: str) -> list[str]:
    from review.codebook import load_codebook

    return list(load_codebook().fields[field].vocabulary or ())


def _labels(df: pd.DataFrame, field: str) -> pd.Series:
    s = df[field].astype("string").str.strip() if field in df else pd.Series(pd.NA, index=df.index)
    return s.fillna(NOT_CODED).replace("", NOT_CODED)


def _years(df: pd.DataFrame) -> pd.Series:
    return pd.to_numeric(df["year"], errors="coerce").astype("Int64")


def counts_by_year(df: pd.DataFrame, field: str) -> pd.DataFrame:
    """Tidy [year, <field>, n], every vocabulary value and year present (zeros kept)."""
    frame = pd.DataFrame({"year": _years(df), field: _labels(df, field)}).dropna(subset=["year"])
    order = _vocabulary(field) + sorted(set(frame[field]) - set(_vocabulary(field)))
    years = sorted(frame["year"].unique())
    full = pd.MultiIndex.from_product([years, order], names=["year", field])
    n = frame.groupby(["year", field]).size().reindex(full, fill_value=0)
    out = n.rename("n").reset_index()
    out["year"] = out["year"].astype(int)
    return out


def overall(table: pd.DataFrame, field: str) -> pd.DataFrame:
    """Collapse a per-year table to [<field>, n] in the table's own category order."""
    order = list(dict.fromkeys(table[field]))
    return (table.groupby(field, sort=False)["n"].sum().reindex(order).rename("n").reset_index())


def figure4_tables(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Tidy tables behind Figure 4: per_year plus one per-year table per coded field."""
    years = _years(df).dropna()
    per_year = years.value_counts().sort_index().rename_axis("year").rename("n").reset_index()
    per_year["year"] = per_year["year"].astype(int)
    tables = {"per_year": per_year}
    tables.update({field: counts_by_year(df, field) for field in FIG4_FIELDS})
    return tables


def histogram(values: pd.Series, bin_width: float = DEFAULT_BIN_WIDTH) -> pd.DataFrame:
    """Counts of `values` in [k*w, (k+1)*w) bins: tidy [bin_left, bin_right, n]."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
    if len(v) == 0:
        return pd.DataFrame({"bin_left": [], "bin_right": [], "n": []})
    k = np.floor(v / bin_width).astype(int)
    idx = np.arange(k.min(), k.max() + 1)
    n = pd.Series(k).value_counts().reindex(idx, fill_value=0)
    return pd.DataFrame({"bin_left": idx * bin_width, "bin_right": (idx + 1) * bin_width,
                         "n": n.to_numpy()})


def histogram_bars(table: pd.DataFrame, max_bars: int = MAX_BARS) -> pd.DataFrame:
    """Figure 5c's bars: the first `max_bars - 1` bins, then one ">= x" bar for the tail."""
    if len(table) == 0:
        return pd.DataFrame({"bin": [], "n": []})
    head = table.iloc[: max_bars - 1] if len(table) > max_bars else table
    labels = [f"{a:g}-{b:g}" for a, b in zip(head["bin_left"], head["bin_right"])]
    counts = list(head["n"].astype(int))
    if len(table) > max_bars:
        tail = table.iloc[max_bars - 1:]
        labels.append(f">= {tail['bin_left'].iloc[0]:g}")
        counts.append(int(tail["n"].sum()))
    return pd.DataFrame({"bin": labels, "n": counts})


def figure5_tables(df: pd.DataFrame, bin_width: float = DEFAULT_BIN_WIDTH) -> dict[str, pd.DataFrame]:
    """Tidy tables behind Figure 5: modality_subject, n_classes, data_size (+ what was left out)."""
    mod, sub = _labels(df, "modality"), _labels(df, "subject")
    keep = ~mod.isin(["many", NOT_CODED]) & ~sub.isin(["many", NOT_CODED])
    ms = (pd.DataFrame({"modality": mod[keep], "subject": sub[keep]})
          .groupby(["modality", "subject"]).size().rename("n").reset_index()
          .sort_values(["n", "modality"], ascending=[False, True], ignore_index=True))
    classes = pd.to_numeric(df.get("n_classes"), errors="coerce").dropna().astype(int)
    nc = classes.value_counts().sort_index().rename_axis("n_classes").rename("n").reset_index()
    quantity = data_quantity(df)
    left_out = pd.DataFrame({
        "figure": ["5a", "5b", "5c"],
        "rows_left_out": [int((~keep).sum()), int(len(df) - len(classes)),
                          int(quantity.isna().sum())],
        "why": ["modality or subject is 'many' or not coded", "n_classes not coded",
                "no data quantity (patients for CT/MRI/microscopy, else images)"],
    })
    return {"modality_subject": ms, "n_classes": nc, "data_size": histogram(quantity, bin_width),
            "left_out": left_out}


def to_json(df: pd.DataFrame, bin_width: float = DEFAULT_BIN_WIDTH) -> dict[str, Any]:
    """The JSON shape printed by `review summary --json` (see review.commands.summary)."""
    f4, f5 = figure4_tables(df), figure5_tables(df, bin_width)
    fig4: dict[str, Any] = {"per_year": _records(f4["per_year"])}
    for field in FIG4_FIELDS:
        tot = overall(f4[field], field)
        fig4[field] = {"overall": dict(zip(tot[field], tot["n"].astype(int))),
                       "per_year": _records(f4[field])}
    return {"n_studies": int(len(df)), "figure4": fig4,
            "figure5": {k: _records(v) for k, v in f5.items()}}


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
            for rec in table.to_dict("records")]


# --------------------------------------------------------------------------- figures
def _stacked_by_year(ax, table: pd.DataFrame, field: str, palette: dict[str, str], title: str) -> None:
    """Horizontal bars stacked by category, one bar per year (years on the y axis, as in the paper)."""
    import seaborn as sns

    from review.plotting import color_for

    order = [c for c in dict.fromkeys(table[field]) if table.loc[table[field] == c, "n"].sum() > 0]
    data = table[table[field].isin(order) & (table["n"] > 0)]
    if len(data):
        # seaborn stacks the last hue first: reverse so the vocabulary runs left to right
        sns.histplot(data=data, y="year", hue=field, weights="n", multiple="stack", discrete=True, shrink=0.8,
                     hue_order=order[::-1], palette={c: color_for(c, palette) for c in order}, ax=ax,
                     linewidth=0.5, edgecolor="white")
        legend = ax.get_legend()
        handles, labels = legend.legend_handles[::-1], [t.get_text() for t in legend.get_texts()][::-1]
        ax.legend(handles, labels, title=field.replace("_", " "), fontsize=7, title_fontsize=8,
                  loc="lower right")
    ax.set_ylabel("year")
    ax.set_xlabel("studies")
    ax.set_title(title, fontsize=10)


def figure4(df: pd.DataFrame):
    """Figure 4 as in the paper: studies over time (years on the y axis) by (a) count,
    (b) backbone model category and (c) TL type; "not coded" shown in grey."""
    import seaborn as sns

    from review.plotting import CATEGORY_COLORS, TL_COLORS, panel_letter, pyplot

    plt = pyplot()
    t = figure4_tables(df)
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharey=True)
        per_year = t["per_year"]
        if len(per_year):
            sns.histplot(data=per_year, y="year", weights="n", discrete=True, shrink=0.8, color="#1f4e79",
                         ax=axes[0])
            for year, n in zip(per_year["year"], per_year["n"]):
                axes[0].text(n, year, f" {n}", va="center", fontsize=8)
            axes[0].set_yticks(per_year["year"], per_year["year"].astype(str))
            axes[0].invert_yaxis()  # shared: earliest year on top in every panel
        axes[0].set_xlabel("studies")
        axes[0].set_ylabel("year")
        axes[0].set_title(f"publications per year (n = {len(df)})", fontsize=10)
        _stacked_by_year(axes[1], t["backbone_category"], "backbone_category", CATEGORY_COLORS,
                         "backbone model")
        _stacked_by_year(axes[2], t["tl_type"], "tl_type", TL_COLORS, "transfer learning type")
        for ax, letter in zip(axes, "abc"):
            panel_letter(ax, letter)
        fig.tight_layout()
    return fig


def figure5(df: pd.DataFrame, bin_width: float = DEFAULT_BIN_WIDTH):
    """Figure 5 as in the paper: (a) body part x modality, (b) number of classes,
    (c) histogram of data quantity (bins of `bin_width`, the first one 0-600)."""
    import seaborn as sns

    from review.plotting import panel_letter, pyplot

    plt = pyplot()
    t = figure5_tables(df, bin_width)
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(1, 3, figsize=(16, 5.5), gridspec_kw={"width_ratios": [1.6, 1, 1.2]})
        ms = t["modality_subject"]
        if len(ms):
            wide = ms.pivot(index="subject", columns="modality", values="n").fillna(0).astype(int)
            sns.heatmap(wide, annot=True, fmt="d", cmap="Blues", linewidths=0.5, linecolor="white",
                        cbar_kws={"label": "studies", "shrink": 0.7}, mask=wide.eq(0), ax=axes[0],
                        annot_kws={"fontsize": 7})
            axes[0].tick_params(axis="x", rotation=45, labelsize=8)
            axes[0].tick_params(axis="y", labelsize=8)
        axes[0].grid(False)
        axes[0].set_title("anatomical body part x imaging modality", fontsize=10)
        nc = t["n_classes"].assign(n_classes=lambda d: d["n_classes"].astype(str))
        sns.barplot(data=nc, x="n_classes", y="n", color="#1f4e79", ax=axes[1])
        axes[1].set_title("number of classes", fontsize=10)
        axes[1].set_xlabel("classes")
        axes[1].set_ylabel("studies")
        bars = histogram_bars(t["data_size"])
        if len(bars):
            sns.barplot(data=bars, x="bin", y="n", color="#66a61e", ax=axes[2])
            axes[2].tick_params(axis="x", rotation=60, labelsize=7)
        axes[2].set_title(f"quantity of the data sets (bins of {bin_width:g})", fontsize=10)
        axes[2].set_xlabel("patients (CT, MRI, microscopy) or images")
        axes[2].set_ylabel("studies")
        for ax, letter in zip(axes, "abc"):
            panel_letter(ax, letter)
        fig.tight_layout()
    return fig
