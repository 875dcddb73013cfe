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
def _stacked(ax, table: pd.DataFrame, field: str, title: str) -> None:
    from matplotlib.ticker import MaxNLocator

    order = list(dict.fromkeys(table[field]))  # vocabulary order, not alphabetical
    wide = table.pivot(index="year", columns=field, values="n").reindex(columns=order)
    wide = wide.loc[:, wide.sum() > 0]
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    bottom = np.zeros(len(wide))
    for col in wide.columns:
        ax.bar(wide.index.astype(str), wide[col], bottom=bottom, label=col)
        bottom += wide[col].to_numpy()
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("studies")
    ax.legend(fontsize=7, title=field.replace("_", " "), title_fontsize=7)


def figure4(df: pd.DataFrame):
    """Figure 4 as a 2 x 2 matplotlib Figure."""
    from review.plotting import pyplot

    plt = pyplot()
    t = figure4_tables(df)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0, 0]
    ax.bar(t["per_year"]["year"].astype(str), t["per_year"]["n"], color="#4c72b0")
    ax.set_title(f"(a) publications per year (n = {len(df)})", fontsize=10)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("studies")
    _stacked(axes[0, 1], t["backbone_category"], "backbone_category", "(b) backbone model per year")
    _stacked(axes[1, 0], t["tl_type"], "tl_type", "(c) transfer learning type per year")
    fam = overall(t["backbone_family"], "backbone_family")
    fam = fam[(fam["n"] > 0) & (fam["backbone_family"] != "many")]
    axes[1, 1].barh(fam["backbone_family"], fam["n"], color="#55a868")
    axes[1, 1].invert_yaxis()
    axes[1, 1].set_title("(d) backbone family of single-model studies, all years", fontsize=10)
    axes[1, 1].set_xlabel("studies")
    fig.tight_layout()
    return fig


def figure5(df: pd.DataFrame, bin_width: float = DEFAULT_BIN_WIDTH):
    """Figure 5 as a 1 x 3 matplotlib Figure."""
    from review.plotting import pyplot

    plt = pyplot()
    t = figure5_tables(df, bin_width)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5), gridspec_kw={"width_ratios": [1.6, 1, 1.2]})
    ms = t["modality_subject"]
    ax = axes[0]
    if len(ms):
        wide = ms.pivot(index="subject", columns="modality", values="n").fillna(0)
        im = ax.imshow(wide.to_numpy(), cmap="Blues", aspect="auto")
        ax.set_xticks(range(wide.shape[1]), wide.columns, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(wide.shape[0]), wide.index, fontsize=8)
        for (i, j), v in np.ndenumerate(wide.to_numpy()):
            if v:
                ax.text(j, i, int(v), ha="center", va="center", fontsize=7)
        fig.colorbar(im, ax=ax, shrink=0.7, label="studies")
    ax.set_title("(a) subject x modality", fontsize=10)
    nc = t["n_classes"]
    axes[1].bar(nc["n_classes"].astype(str), nc["n"], color="#4c72b0")
    axes[1].set_title("(b) number of classes", fontsize=10)
    axes[1].set_xlabel("classes")
    axes[1].set_ylabel("studies")
    ds = t["data_size"]
    axes[2].bar(ds["bin_left"], ds["n"], width=bin_width, align="edge", color="#55a868",
                edgecolor="white")
    axes[2].set_title(f"(c) data quantity (bins of {bin_width:g})", fontsize=10)
    axes[2].set_xlabel("patients (CT/MRI/microscopy) or images")
    axes[2].set_ylabel("studies")
    fig.tight_layout()
    return fig
