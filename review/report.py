"""Every figure of the review (PNG + SVG) and a Markdown report tying them together.

`build_report` runs PRISMA, Figures 4-6 and the audit on one CSV and writes,
into one folder: prisma (.png, .svg and .pdf), figure4, figure5, figure6 (the review's selection),
figure6-all (every study with a data size; each .png and .svg),
audit.csv (the tidy audit table) and report.md, which links the figures and
states where each number comes from: the CSV (with its SHA-256), the counts
file, the published-numbers file, the bootstrap settings and the software
versions. Every file is written atomically.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from review import audit as audit_mod
from review import prisma as prisma_mod
from review import spearman as sp
from review import summary
from review.published import Published, load_published
from review.store import write_text_atomic


@dataclass
class ReportResult:
    """What `build_report` wrote, plus the numbers it reported (for the CLI / dashboard)."""

    out_dir: Path
    report: Path
    files: list[Path] = field(default_factory=list)
    failed_checks: int = 0
    inconsistencies: int = 0


def md_table(df: pd.DataFrame) -> str:
    """A pipe table (no extra dependency); None/NaN shown as '-'."""
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _versions() -> str:
    import matplotlib
    import numpy
    import scipy

    return (f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {numpy.__version__}, "
            f"scipy {scipy.__version__}, matplotlib {matplotlib.__version__}; "
            f"{platform.system()} {platform.machine()}")


def _figure_md(name: str, caption: str, pdf: bool = False) -> str:
    extra = f", [PDF]({name}.pdf)" if pdf else ""
    return f"![{caption}]({name}.png)\n\n{caption} ([PNG]({name}.png), [SVG]({name}.svg){extra})"


def build_report(df: pd.DataFrame, out_dir: str | Path, csv_path: str | Path,
                 counts_path: str | Path = prisma_mod.DEFAULT_COUNTS,
                 published: Published | None = None, n_boot: int = 2000, seed: int = 0,
                 progress: bool = True) -> ReportResult:
    """Write every figure and report.md into `out_dir`; return what was written."""
    from tqdm import tqdm

    from review.plotting import save_figure

    out = Path(out_dir)
    published = published or load_published()
    result = ReportResult(out_dir=out, report=out / "report.md")
    steps = tqdm(total=6, desc="review report", disable=not progress, unit="step")

    counts = prisma_mod.load_counts(counts_path)
    checks = prisma_mod.check_counts(counts, len(df))
    result.files += save_figure(prisma_mod.draw(counts, checks=checks), out / "prisma",
                                formats=prisma_mod.FIGURE_FORMATS)
    steps.update()
    result.files += save_figure(summary.figure4(df), out / "figure4")
    steps.update()
    result.files += save_figure(summary.figure5(df), out / "figure5")
    steps.update()
    analyses = sp.analyse_both(df, n_boot=n_boot, seed=seed)
    analysis = analyses["review"]
    result.files += save_figure(sp.figure(analysis), out / "figure6")
    result.files += save_figure(sp.figure(analyses["all"]), out / "figure6-all")
    steps.update()
    table = audit_mod.audit(df, published, analysis)
    flags = audit_mod.inconsistencies(published)
    result.files.append(write_text_atomic(out / "audit.csv", table.to_csv(index=False)))
    steps.update()
    sections = [
        _header(df, csv_path, counts_path, published, n_boot, seed),
        _prisma_md(checks),
        _fig4_md(df),
        _fig5_md(df),
        _fig6_md(analyses, published),
        _audit_md(table, flags),
    ]
    result.files.append(write_text_atomic(result.report, "\n\n".join(sections) + "\n"))
    steps.update()
    steps.close()
    result.failed_checks = len(prisma_mod.failed(checks))
    result.inconsistencies = sum(c.ok is False for c in flags)
    return result


def _header(df, csv_path, counts_path, published, n_boot, seed) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    src = published.source.get("citation", "Kim et al. 2022")
    return "\n".join([
        "# Transfer learning for medical image classification: living review report",
        "",
        f"Generated {now} by `review report`. Reproduces the analyses of {src} "
        f"({published.source.get('url', '')}) from the coded studies.",
        "",
        f"- Studies CSV: `{csv_path}` ({len(df)} rows, SHA-256 `{_sha256(Path(csv_path))[:16]}`)",
        f"- PRISMA counts: `{counts_path}` (SHA-256 `{_sha256(Path(counts_path))[:16]}`)",
        f"- Published numbers: `{published.path}`",
        f"- Bootstrap: {n_boot} resamples, seed {seed}",
        f"- Software: {_versions()}",
    ])


def _prisma_md(checks: list[prisma_mod.Check]) -> str:
    rows = pd.DataFrame([{"check": c.name, "expected": c.to_dict()["expected"],
                          "actual": c.to_dict()["actual"],
                          "result": {True: "pass", False: "**FAIL**", None: "skipped"}[c.ok],
                          "detail": c.detail} for c in checks])
    bad = prisma_mod.failed(checks)
    verdict = ("All computable checks pass." if not bad else
               f"**{len(bad)} check(s) fail:** " + "; ".join(f"{c.name} ({c.detail})" for c in bad) + ".")
    return "\n\n".join(["## PRISMA 2020 flow", _figure_md("prisma", "PRISMA 2020 flow diagram", pdf=True),
                        verdict, md_table(rows)])


def _fig4_md(df: pd.DataFrame) -> str:
    t = summary.figure4_tables(df)
    parts = ["## Figure 4: studies over time, backbone model and TL type",
             _figure_md("figure4", "Figure 4 recomputed from the CSV"),
             md_table(t["per_year"])]
    for f in summary.FIG4_FIELDS:
        tot = summary.overall(t[f], f)
        parts.append(md_table(tot[tot["n"] > 0]))
    return "\n\n".join(parts)


def _fig5_md(df: pd.DataFrame) -> str:
    t = summary.figure5_tables(df)
    return "\n\n".join(["## Figure 5: data characteristics",
                        _figure_md("figure5", "Figure 5 recomputed from the CSV"),
                        md_table(t["n_classes"]), md_table(t["left_out"])])


def spearman_table(analyses: dict[str, sp.SpearmanAnalysis], published: Published | None = None
                   ) -> pd.DataFrame:
    """Both selections side by side, one row per metric, with the published r and p."""
    rows = []
    for metric in sp.METRICS:
        row: dict[str, Any] = {"metric": metric}
        for selection, a in analyses.items():
            r = a.results[metric].to_dict()
            row.update({f"{selection}: n": r["n"], f"{selection}: r": r["r"], f"{selection}: p": r["p"],
                        f"{selection}: 95% CI": "-" if r["ci_low"] is None else
                        f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]"})
        if published is not None:
            for stat in ("r", "p"):
                key = f"spearman.{metric}.{stat}"
                row[f"published {stat}"] = published.value(key) if key in published.by_key else None
        rows.append(row)
    return pd.DataFrame(rows)


def _fig6_md(analyses: dict[str, sp.SpearmanAnalysis], published: Published | None = None) -> str:
    a, every = analyses["review"], analyses["all"]
    notes = [f"- {sel}, {r.metric}: {r.note}" for sel, an in analyses.items() for r in an.results.values()
             if r.note]
    excl = pd.DataFrame([{"selection": sel, "reason": k, "studies": v}
                         for sel, an in analyses.items() for k, v in an.excluded_counts().items() if v])
    return "\n\n".join([
        "## Figure 6: data size vs performance (Spearman)",
        _figure_md("figure6", "Figure 6 recomputed from the CSV (the review's selection)"),
        _figure_md("figure6-all", "Figure 6 on every study with a data size and the metric"),
        f"Selection `review` (the paper's rule): {len(a.subset)} studies with one model, one TL type and one "
        f"modality; {a.both_metrics()} report both AUC and accuracy. Selection `all`: {len(every.subset)} "
        "studies with a data quantity, n_classes and AUC or accuracy. Data quantity per class (patients for "
        "CT, MRI and microscopy, images otherwise). p and bootstrap intervals need 5 points, r needs 3.",
        md_table(spearman_table(analyses, published)),
        "\n".join(notes) if notes else "",
        md_table(excl) if len(excl) else "No study excluded."])


def _audit_md(table: pd.DataFrame, flags: list[prisma_mod.Check]) -> str:
    bad = [c for c in flags if c.ok is False]
    lines = [f"- **{c.name}**: {c.detail}" for c in bad]
    return "\n\n".join([
        "## Audit: published numbers vs the CSV",
        md_table(table.drop(columns=["label"])),
        f"### The published numbers checked against each other ({len(bad)} inconsistencies)",
        "\n".join(lines) if lines else "None found.",
    ])
