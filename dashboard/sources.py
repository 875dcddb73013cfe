"""Cached loaders: thin adapters from the review and harness APIs to tidy frames.

Every loader takes a path, keys its `st.cache_data` entry on the path plus the
file's modification time and size (so an edited file is re-read, an unchanged
one costs nothing), and turns every failure into a `SourceError` naming the
file and the problem, which the pages show with `st.error` instead of a
traceback. A part of the project that is not installed raises `Unavailable`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import views

#: trial text columns the pages filter on (missing values shown as "?")
TEXT_COLUMNS = ["backbone", "strategy", "weights", "dataset", "status"]
TABLE2_COLUMNS = ["model", "backbone", "alpha", "depth", *views.TABLE2_METRICS, "source"]


class SourceError(Exception):
    """An input file could not be used; `path` and `problem` say which and why."""

    def __init__(self, path: str | Path, problem: str, hint: str = ""):
        self.path, self.problem, self.hint = str(path), problem, hint
        super().__init__(f"{path}: {problem}" + (f" — {hint}" if hint else ""))


class MissingSource(SourceError):
    """The file does not exist (yet): not an error, the page explains how to make it."""


class Unavailable(Exception):
    """A review/harness API the page needs is not part of this install."""


def stamp(path: str | Path) -> tuple[str, int, int]:
    """(resolved path, mtime_ns, size): the cache key of a file; (path, -1, -1) when absent."""
    p = Path(path).expanduser()
    try:
        st_ = p.stat()
    except OSError:
        return str(p), -1, -1
    return str(p.resolve()), st_.st_mtime_ns, st_.st_size


def _require(path: str | Path, what: str, hint: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingSource(p, f"no {what} file here", hint)
    if p.is_dir():
        raise SourceError(p, f"is a folder, expected a {what} file", hint)
    return p


# --------------------------------------------------------------------- studies
def studies(path: str | Path) -> pd.DataFrame:
    """The coded studies (validated by the review's codebook), cached on the file's stamp."""
    p = _require(path, "studies CSV", "set TLMI_STUDIES_CSV or the sidebar path to data/studies.csv")
    return _studies(*stamp(p)).copy()


@st.cache_data(show_spinner=False, max_entries=16)
def _studies(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    try:
        from review.store import StudyError, load_studies
    except ImportError as exc:
        raise Unavailable(f"review.store is not available in this install ({exc})") from None
    try:
        return load_studies(path, validate=True)
    except StudyError as exc:
        raise SourceError(path, str(exc).replace(f"{path}: ", "", 1),
                          "fix the rows listed (see `review validate`) and reload") from None


def codebook():
    """The review's codebook (fields, vocabularies), or Unavailable; read once per version of the file."""
    try:
        from review.codebook import DEFAULT_CODEBOOK
    except ImportError as exc:
        raise Unavailable(f"review.codebook is not available in this install ({exc})") from None
    return _codebook(*stamp(DEFAULT_CODEBOOK))


@st.cache_resource(show_spinner=False, max_entries=4)
def _codebook(path: str, mtime_ns: int, size: int):
    from review.codebook import load_codebook

    return load_codebook(path)


# --------------------------------------------------------------------- table 2
def table2(path: str | Path) -> pd.DataFrame:
    """Ho & Kim 2021 Table 2 as shipped in data/ho_kim_2021_table2.csv (with its source column)."""
    p = _require(path, "Table 2 CSV", "set TLMI_TABLE2_CSV to data/ho_kim_2021_table2.csv")
    return _table2(*stamp(p)).copy()


@st.cache_data(show_spinner=False, max_entries=8)
def _table2(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype={"depth": "string", "alpha": "string"}, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise SourceError(path, f"not a readable CSV ({exc})") from None
    missing = [c for c in TABLE2_COLUMNS if c not in df.columns]
    if missing:
        raise SourceError(path, f"missing columns {missing}; expected {TABLE2_COLUMNS}")
    for i, row in df.iterrows():
        for m in views.TABLE2_METRICS:
            try:
                value = float(row[m])
            except (TypeError, ValueError):
                raise SourceError(path, f"row {i + 1}, column {m!r}: {row[m]!r} is not a number") from None
            if not 0.0 <= value <= 1.0:
                raise SourceError(path, f"row {i + 1}, column {m!r}: {value} is outside [0, 1]")
        if not str(row["source"]).strip():
            raise SourceError(path, f"row {i + 1}, column 'source': empty; every value needs its source")
    for m in views.TABLE2_METRICS:
        df[m] = df[m].astype(float)
    return df


# ---------------------------------------------------------------------- trials
def store_files(path: str | Path) -> list[Path]:
    """The results stores at `path`: the file itself, or every results.sqlite under a folder (e.g. runs/)."""
    p = Path(path).expanduser()
    if p.is_dir():
        return sorted(p.rglob("results.sqlite"))
    return [p] if p.exists() else []


def store_stamp(path: str | Path) -> tuple:
    """Cache key of a store or folder of stores, including SQLite's -wal file (where WAL writes land first).

    An empty -wal counts as none: a reader of a WAL store may create one, which must not look like new trials.
    """
    def wal(store: Path) -> tuple:
        key = stamp(store.with_name(store.name + "-wal"))
        return key if key[2] > 0 else (key[0], -1, -1)

    return tuple(stamp(f) + wal(f) for f in store_files(path))


def trials(path: str | Path) -> pd.DataFrame:
    """Harness trials (done and failed), one tidy row each (see TRIAL_COLUMNS), cached on the stores' stamps."""
    p = Path(path).expanduser()
    if not store_files(p):
        raise MissingSource(p, "no harness results store (results.sqlite) here",
                            "run a sweep first: `harness sweep configs/quick.yaml` (or set TLMI_RESULTS)")
    return _trials(str(p), store_stamp(p)).copy()


@st.cache_data(show_spinner=False, max_entries=8)
def _trials(path: str, key: tuple) -> pd.DataFrame:
    records = [rec for store in store_files(path) for rec in _read_store(store)]
    return trials_frame(records, path)


def _results():
    """`harness.results`: the one trial-row schema (`flatten`) and the read-only store reader."""
    try:
        import harness.results as results
    except ImportError as exc:
        raise Unavailable(f"harness.results is not available in this install ({exc})") from None
    return results


def _read_store(path: Path) -> list[dict[str, Any]]:
    """Raw trial rows of one store, read by `harness.results.ResultStore` (read-only: a viewer never writes)."""
    results = _results()
    try:
        rows = results.ResultStore(path).rows()
    except results.StoreError as exc:
        raise SourceError(path, exc.problem,
                          exc.hint or "point TLMI_RESULTS at the results.sqlite a harness sweep wrote") from None
    for row in rows:
        row["store"] = str(path)
    return rows


def trials_frame(records: list[dict[str, Any]], path: str | Path = "<records>") -> pd.DataFrame:
    """Store rows -> the tidy trial frame: `harness.results.flatten` per row (its TRIAL_COLUMNS), plus `store`
    (the file it came from), `data_size` (= train_patients, the pages' name) and `error_summary`.

    A row that does not fit the schema, or a metric outside [0, 1], names its trial and field.
    """
    results = _results()
    rows = []
    for i, rec in enumerate(records):
        try:
            flat = results.flatten(rec)
        except results.RowError as exc:
            raise SourceError(path, f"trial {i + 1}: {exc}") from None
        flat["store"] = rec.get("store")
        rows.append(flat)
    frame = pd.DataFrame(rows, columns=[*results.TRIAL_COLUMNS, "store"])
    frame["data_size"] = frame["train_patients"]
    frame["error_summary"] = frame["error"].map(results.error_summary)
    for col in TEXT_COLUMNS:
        frame[col] = frame[col].astype("string").fillna("?").astype(str)
    for key in results.schema.METRIC_COLUMNS:  # checked column-wise: one pass over 10,000 trials
        raw = frame[key]
        value = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna() & ~value.between(0.0, 1.0) & ~raw.map(_is_nan)
        if bad.any():
            i = bad.idxmax()
            where = frame.at[i, "store"] if isinstance(frame.at[i, "store"], str) else path
            raise SourceError(where, f"trial {frame.at[i, 'trial_id']!r}, field 'metrics.test.{key}': "
                                     f"{raw.at[i]!r} is not a number in [0, 1]")
    text = {*TEXT_COLUMNS, "trial_id", "sweep", "weights_label", "confusion", "selected", "precision", "backend",
            "device", "machine", "versions", "data_fingerprint", "error", "config", "store", "error_summary"}
    for col in frame.columns:
        if col not in text:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def _is_nan(value: Any) -> bool:
    """A float NaN (the store's way of saying 'undefined', e.g. AUC with one class): allowed."""
    return isinstance(value, float) and value != value


# ------------------------------------------------------------- review analyses
def _review(module: str):
    """Import review.<module>, or raise Unavailable naming it."""
    import importlib

    try:
        return importlib.import_module(f"review.{module}")
    except ImportError as exc:
        raise Unavailable(f"review.{module} is not available in this install ({exc})") from None


def prisma(path: str | Path, n_rows: int | None) -> tuple[Any, pd.DataFrame]:
    """PRISMA counts and their arithmetic checks (one row per check: name, expected, actual, ok, detail)."""
    p = _require(path, "PRISMA counts", "set TLMI_PRISMA to data/prisma.csv (PRISMA2020 template format)")
    return _prisma(*stamp(p), n_rows)


@st.cache_data(show_spinner=False, max_entries=8)
def _prisma(path: str, mtime_ns: int, size: int, n_rows: int | None) -> tuple[Any, pd.DataFrame]:
    mod = _review("prisma")
    try:
        counts = mod.load_counts(path)
    except (ValueError, OSError) as exc:  # CountsError is a ValueError
        raise SourceError(path, str(exc).replace(f"{path}: ", "", 1)) from None
    checks = pd.DataFrame([c.to_dict() for c in mod.check_counts(counts, n_rows)])
    return counts, checks


@st.cache_data(show_spinner=False, max_entries=16)
def spearman(studies: pd.DataFrame, n_boot: int, seed: int, selection: str = "review") -> Any:
    """The review's Figure 6 analysis (selection, Spearman r/p, bootstrap CIs) on these studies."""
    return _review("spearman").analyse(studies, n_boot=n_boot, seed=seed, selection=selection)


@st.cache_data(show_spinner=False, max_entries=16)
def summary_tables(studies: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Tidy tables behind the review's Figures 4 and 5 (review.summary), for these studies."""
    mod = _review("summary")
    return {**{f"fig4_{k}": v for k, v in mod.figure4_tables(studies).items()},
            **{f"fig5_{k}": v for k, v in mod.figure5_tables(studies).items()}}


@st.cache_data(show_spinner=False, max_entries=8)
def audit(studies: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(published vs recomputed table, the published numbers' own consistency checks) from review.audit."""
    mod = _review("audit")
    try:
        table = mod.audit(studies)
        checks = pd.DataFrame([c.to_dict() for c in mod.inconsistencies()])
    except (ValueError, OSError) as exc:  # PublishedError is a ValueError; names data/published.yaml
        raise SourceError("data/published.yaml", str(exc)) from None
    return table, checks


@st.cache_data(show_spinner=False, max_entries=2)
def published_spearman() -> pd.DataFrame:
    """The review's own Spearman r and p per metric, with where the paper states them (data/published.yaml)."""
    mod = _review("published")
    try:
        pub = mod.load_published()
    except (ValueError, OSError) as exc:
        raise SourceError("data/published.yaml", str(exc)) from None
    rows = []
    for metric in ("auc", "accuracy"):
        keys = [f"spearman.{metric}.r", f"spearman.{metric}.p"]
        if all(k in pub.by_key for k in keys):
            rows.append({"metric": metric, "published_r": pub.value(keys[0]), "published_p": pub.value(keys[1]),
                         "where": pub[keys[0]].where})
    return pd.DataFrame(rows, columns=["metric", "published_r", "published_p", "where"])


FIGURE6_SELECTIONS = {"review": "the review's selection (one model, one TL type, one modality)",
                      "all": "every study with a data size and the measure"}


@st.cache_data(show_spinner=False, max_entries=16)
def figure6_points(studies: pd.DataFrame, measure: str) -> dict[str, pd.DataFrame]:
    """Figure 6's points (study_id, size = data per class, value, modality, title) under both selections.

    From `review.spearman.analyse(selection=...)`: `review` is the paper's rule,
    `all` every study with a data size and the measure (both leave out metrics
    of models that combine TL with other features).
    """
    mod = _review("spearman")
    titles = studies.set_index("study_id")["title"] if "title" in studies else None
    out = {}
    for selection in FIGURE6_SELECTIONS:
        points = mod.analyse(studies, n_boot=0, selection=selection).points
        points = points[points["metric"] == measure].drop(columns="metric")
        if titles is not None:
            points = points.assign(title=points["study_id"].map(titles))
        out[selection] = points.reset_index(drop=True)
    return out


@st.cache_data(show_spinner=False, max_entries=32)
def meta(studies: pd.DataFrame, measure: str, moderators: tuple[str, ...] = (), method: str = "reml"
         ) -> tuple[dict, pd.DataFrame]:
    """`review.meta.meta_analysis` on these studies: (the `review meta --json` result plus its `message`
    and `reference_levels`, its per-study frame for forest plots). Too few studies is not an error: the
    pooled numbers are None and `message` says why."""
    result = _review("meta").meta_analysis(studies, metric=measure, moderators=list(moderators), method=method)
    return {**result.to_dict(), "message": result.message, "reference_levels": dict(result.reference_levels)}, \
        result.studies
