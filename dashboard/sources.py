"""Cached loaders: thin adapters from the review and harness APIs to tidy frames.

Every loader takes a path, keys its `st.cache_data` entry on the path plus the
file's modification time and size (so an edited file is re-read, an unchanged
one costs nothing), and turns every failure into a `SourceError` naming the
file and the problem, which the pages show with `st.error` instead of a
traceback. A part of the project that is not installed raises `Unavailable`.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import views

#: canonical trial columns the pages use (anything else the store gives is kept too)
METRIC_COLUMNS = ["accuracy", "auc_macro", "auc_weighted", "soft_accuracy", "f1_OAP", "f1_IN", "f1_OBS"]
TEXT_COLUMNS = ["trial_id", "status", "backbone", "strategy", "weights", "dataset"]
TRIAL_COLUMNS = [*TEXT_COLUMNS, "data_size", "seed", *METRIC_COLUMNS, "confusion", "wall_time_s",
                 "images_per_s", "peak_memory_mb", "trainable_params", "total_params"]
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
    """Cache key of a store or folder of stores, including SQLite's -wal file (where WAL writes land first)."""
    return tuple(stamp(f) + stamp(f.with_name(f.name + "-wal")) for f in store_files(path))


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


#: store columns holding JSON the loader needs parsed; the others (versions, machine) stay text for display
PARSED_JSON = ("config", "metrics", "timings")


def _read_store(path: Path) -> list[dict[str, Any]]:
    """Raw trial rows of one harness results store, opened read-only (a viewer never writes to a store).

    JSON columns the page needs (config, metrics, timings) are parsed here, so
    a malformed one names its trial and column; versions stay text.
    """
    _check_sqlite(path)
    try:
        with closing(sqlite3.connect(_read_only_uri(path), uri=True)) as con:
            columns = [r[1] for r in con.execute("PRAGMA table_info(trials)")]
            order = " ORDER BY finished_at" if "finished_at" in columns else ""
            cursor = con.execute(f"SELECT * FROM trials{order}")
            rows = [dict(zip(columns, values)) for values in cursor]
    except sqlite3.Error as exc:
        raise SourceError(path, f"cannot read the results store ({type(exc).__name__}: {exc})",
                          "check that it is a harness results store, or point TLMI_RESULTS elsewhere") from None
    for row in rows:
        row["config_text"] = row.get("config")
        for column in PARSED_JSON:
            cell = row.get(column)
            if isinstance(cell, str) and cell:
                try:
                    row[column] = json.loads(cell)
                except json.JSONDecodeError as exc:
                    raise SourceError(path, f"trial {row.get('trial_id')!r}, column {column!r}: not valid JSON "
                                            f"({exc.msg} at char {exc.pos})") from None
        row["store"] = str(path)
    return rows


def _read_only_uri(path: Path) -> str:
    """SQLite URI that opens the file read-only (percent-encoded, so any file name works)."""
    return f"{Path(path).resolve().as_uri()}?mode=ro"


def _check_sqlite(path: Path) -> set[str]:
    """The table names of a SQLite file opened read-only; SourceError when it is not a results store."""
    try:
        with closing(sqlite3.connect(_read_only_uri(path), uri=True)) as con:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise SourceError(path, f"not a SQLite results store ({exc})",
                          "point TLMI_RESULTS at the results.sqlite a harness sweep wrote") from None
    if "trials" not in names:
        raise SourceError(path, f"SQLite file without a 'trials' table (tables: {sorted(names) or 'none'})",
                          "point TLMI_RESULTS at the results.sqlite a harness sweep wrote")
    return names


def trials_frame(records: list[dict[str, Any]], path: str | Path = "<records>") -> pd.DataFrame:
    """Flatten harness store rows into the tidy trial frame; a malformed row names its trial and field."""
    rows = [_trial_row(i, rec, path) for i, rec in enumerate(records)]
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys(TRIAL_COLUMNS + [k for r in rows for k in r])))
    for col in ("backbone", "strategy", "weights", "dataset", "status"):
        frame[col] = frame[col].astype("string").fillna("?").astype(str)
    for key in METRIC_COLUMNS:  # checked column-wise: one pass over 10,000 trials, not 70,000 calls
        raw = frame[key]
        value = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna() & ~value.between(0.0, 1.0) & ~(raw.map(_is_nan))
        if bad.any():
            i = bad.idxmax()
            where = frame.at[i, "store"] if isinstance(frame.at[i, "store"], str) else path
            raise SourceError(where, f"trial {frame.at[i, 'trial_id']!r}, field 'metrics.test.{key}': "
                                     f"{raw.at[i]!r} is not a number in [0, 1]")
    numeric = [c for c in TRIAL_COLUMNS if c not in TEXT_COLUMNS + ["confusion"]]
    numeric += [c for c in frame.columns if c.startswith(("images_per_s_", "share_of_reference_"))]
    for col in numeric:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def _trial_row(i: int, rec: Any, path: str | Path) -> dict[str, Any]:
    if not isinstance(rec, dict):
        raise SourceError(path, f"trial {i + 1}: expected a mapping, got {type(rec).__name__}")
    where = f"trial {rec.get('trial_id', i + 1)!r}"
    metrics, timings = _mapping(rec, "metrics", where, path), _mapping(rec, "timings", where, path)
    config = _mapping(rec, "config", where, path)
    test = metrics.get("test") or {}
    params = metrics.get("params") or {}
    data = config.get("data") or {}
    row = {"trial_id": rec.get("trial_id"), "status": rec.get("status", "done"), "sweep": rec.get("sweep"),
           "backbone": rec.get("backbone") or config.get("backbone"),
           "strategy": rec.get("strategy") or config.get("strategy"),
           "weights": rec.get("weights") or config.get("weights"), "weights_label": rec.get("weights_label"),
           "dataset": metrics.get("dataset") or data.get("spec"),
           "data_size": rec.get("train_patients", metrics.get("n_train_patients")), "seed": rec.get("seed"),
           "selected": json.dumps(metrics.get("selection", {}).get("candidate"), sort_keys=True, default=str)
           if metrics.get("selection") else None,
           "confusion": test.get("confusion_matrix"),
           "wall_time_s": timings.get("total_s"), "images_per_s": timings.get("train_images_per_s"),
           "peak_memory_mb": timings.get("peak_rss_mb"),
           "trainable_params": params.get("trainable_params"), "total_params": params.get("total_params"),
           "backend": rec.get("backend"), "device": rec.get("device"),
           "machine": _text(rec.get("machine")), "versions": _text(rec.get("versions")),
           "error": rec.get("error"), "store": rec.get("store"), "config": rec.get("config_text") or _text(config)}
    for phase, measured in (timings.get("throughput") or {}).items():  # per-phase throughput (issue 10)
        if isinstance(measured, dict):
            row[f"images_per_s_{phase}"] = measured.get("images_per_s")
            row[f"share_of_reference_{phase}"] = measured.get("share_of_reference")
    for key in METRIC_COLUMNS:
        row[key] = test.get(key)
    return row


def _mapping(rec: dict[str, Any], key: str, where: str, path: str | Path) -> dict[str, Any]:
    value = rec.get(key)
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SourceError(path, f"{where}, field {key!r}: not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise SourceError(path, f"{where}, field {key!r}: expected a JSON object, got {type(value).__name__}")
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


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
