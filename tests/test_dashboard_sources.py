"""Dashboard loaders: harness stores, studies CSV and Table 2 become tidy frames or clear errors.

Also holds the builders of small test inputs (`make_store`, `make_studies`) used by the page tests.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard import sources, views

BACKBONES = ("MobileNetV1-0.25", "CBR-Tiny", "VGG16", "ResNet50V2")
STRATEGIES = ("feature_extractor", "hybrid_svm", "partial_finetune", "full_finetune")
WEIGHTS = ("none", "source:synth15")
SIZES = (4, 8)


def store_rows(n: int, seed: int = 0) -> list[dict]:
    """n trial rows shaped like `harness.sweep.run_trial`'s output, metrics derived from a confusion matrix."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        backbone, strategy = BACKBONES[i % len(BACKBONES)], STRATEGIES[(i // 4) % len(STRATEGIES)]
        weights, size = WEIGHTS[(i // 16) % len(WEIGHTS)], SIZES[(i // 32) % len(SIZES)]
        cm = rng.integers(1, 40, size=(3, 3)) + np.diag(rng.integers(20, 120, size=3))
        tp = np.diag(cm)
        precision, recall = tp / cm.sum(axis=0), tp / cm.sum(axis=1)
        f1 = 2 * precision * recall / (precision + recall)
        accuracy = float(tp.sum() / cm.sum())
        test = {"accuracy": accuracy, "soft_accuracy": min(1.0, accuracy + 0.05),
                "auc_macro": float(rng.uniform(0.6, 1.0)), "auc_weighted": float(rng.uniform(0.6, 1.0)),
                "confusion_matrix": cm.tolist(), **{f"f1_{c}": float(v) for c, v in zip(views.CLASSES, f1)}}
        config = {"backbone": backbone, "strategy": strategy, "weights": weights, "seed": i,
                  "data": {"spec": "synthetic:3T?patients=16&seed=0"}, "train_patients": size}
        rows.append({"trial_id": f"t{i:05d}", "sweep": "test", "status": "done", "backbone": backbone,
                     "strategy": strategy, "weights": weights, "weights_label": weights, "seed": i,
                     "train_patients": size, "config": config,
                     "metrics": {"test": test, "selection": {"candidate": {"lr": 0.01}, "epochs": 3},
                                 "params": {"trainable_params": 1000 + i, "total_params": 5000},
                                 "dataset": "synthetic-3T-n16-s0"},
                     "timings": {"total_s": float(rng.uniform(1, 100)), "train_images_per_s": 50.0,
                                 "peak_rss_mb": 900.0},
                     "versions": {"keras": "3"}, "backend": "tensorflow", "device": "cpu",
                     "machine": json.dumps({"cpus": 2}), "error": None, "started_at": 0.0, "finished_at": float(i)})
    return rows


def make_store(path: Path, n: int = 40, seed: int = 0, failed: int = 0) -> Path:
    """A harness results store written with the harness's own schema (bulk insert, for speed)."""
    from harness.results import COLUMNS, JSON_COLUMNS, ResultStore

    ResultStore(path).initialise()  # creates the schema exactly as a sweep would
    rows = store_rows(n, seed)
    for k in range(failed):
        rows.append({"trial_id": f"f{k}", "sweep": "test", "status": "failed", "backbone": "VGG16",
                     "strategy": "full_finetune", "weights": "none", "seed": 0, "config": {},
                     "error": "MemoryError: out of memory", "finished_at": 1e9})
    values = [[json.dumps(r.get(c)) if c in JSON_COLUMNS and r.get(c) is not None else r.get(c) for c in COLUMNS]
              for r in rows]
    with sqlite3.connect(path) as con:
        con.executemany(f"INSERT INTO trials ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                        values)
    con.close()
    return path


STUDY_BASE = {"source_url": "https://doi.org/10.1186/s12880-022-00793-7", "evidence": "test fixture",
              "coded_by": "test", "coded_on": "2026-01-01", "confidence": "low"}
STUDIES = [
    dict(study_id="alpha2017", authors="Alpha A", year=2017, title="CT study one", modality="CT",
         subject="respiratory system", backbone_category="deep", backbone_family="Inception",
         tl_type="fine-tuning", accuracy=0.91, auc=0.95, n_patients=300, n_images=3000, n_classes=2, n_test=300),
    dict(study_id="beta2018", authors="Beta B", year=2018, title="X-ray study two", modality="X-ray",
         subject="thoracic cavity", backbone_category="shallow", backbone_family="VGG",
         tl_type="feature extractor", accuracy=0.84, n_images=1200, n_classes=3, n_test=240),
    dict(study_id="gamma2019", authors="Gamma C", year=2019, title="MRI study three", modality="MRI",
         subject="nervous system", backbone_category="deep", backbone_family="ResNet",
         tl_type="fine-tuning", accuracy=0.88, auc=0.9, n_patients=90, n_images=9000, n_classes=3, n_test=180),
    dict(study_id="delta2019", authors="Delta D", year=2019, title="Microscopy study four", modality="microscopy",
         subject="tissue specimen", backbone_category="multiple", backbone_family="many", tl_type="many",
         accuracy=0.95, n_patients=40, n_classes=2, n_test=100),
    dict(study_id="eps2020", authors="Eps E", year=2020, title="X-ray study five", modality="X-ray",
         subject="thoracic cavity", backbone_category="deep", backbone_family="Inception",
         tl_type="feature extractor", accuracy=0.79, auc=0.83, n_images=600, n_classes=2, n_test=120),
    dict(study_id="zeta2020", authors="Zeta Z", year=2020, title="Only listed, not coded"),
]


def make_studies(path: Path) -> Path:
    """A small valid studies CSV written through the review's own API."""
    from review.store import write_studies

    write_studies(path, pd.DataFrame([{**STUDY_BASE, **s} for s in STUDIES]))
    return path


# ------------------------------------------------------------------------ tests
def test_store_rows_become_tidy_trials(tmp_path):
    store = make_store(tmp_path / "results.sqlite", n=24, failed=2)
    frame = sources.trials(store)
    assert len(frame) == 26
    done, failed = views.split_status(frame)
    assert len(done) == 24 and len(failed) == 2
    row = done.set_index("trial_id").loc["t00005"]
    expected = store_rows(24)[5]
    assert row["accuracy"] == pytest.approx(expected["metrics"]["test"]["accuracy"])
    assert row["wall_time_s"] == pytest.approx(expected["timings"]["total_s"])
    assert row["data_size"] == 4 and row["dataset"] == "synthetic-3T-n16-s0"
    assert np.asarray(row["confusion"]).shape == (3, 3)
    assert '"cpus": 2' in row["machine"]  # provenance survives as text


def test_folder_of_stores_is_read_whole(tmp_path):
    make_store(tmp_path / "runs" / "a" / "results.sqlite", n=5)
    make_store(tmp_path / "runs" / "b" / "results.sqlite", n=7, seed=1)
    assert len(sources.trials(tmp_path / "runs")) == 12


def test_cache_sees_new_trials(tmp_path):
    store = make_store(tmp_path / "results.sqlite", n=4)
    assert len(sources.trials(store)) == 4
    from harness.results import ResultStore

    row = store_rows(5)[4]
    ResultStore(store).record(row)
    assert len(sources.trials(store)) == 5


def test_missing_store_is_not_an_error(tmp_path):
    with pytest.raises(sources.MissingSource) as err:
        sources.trials(tmp_path / "nothing")
    assert "harness sweep configs/quick.yaml" in err.value.hint


@pytest.mark.parametrize("content, needle", [
    (b"this is not sqlite at all" * 50, "not a SQLite results store"),
    (None, "without a 'trials' table"),
])
def test_malformed_store_names_file_and_problem(tmp_path, content, needle):
    path = tmp_path / "results.sqlite"
    if content is None:
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE other (x)")
        con.close()
    else:
        path.write_bytes(content)
    with pytest.raises(sources.SourceError) as err:
        sources.trials(path)
    assert needle in err.value.problem and err.value.path == str(path)


def test_bad_json_and_bad_metric_name_the_trial(tmp_path):
    path = make_store(tmp_path / "results.sqlite", n=3)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE trials SET metrics='{broken' WHERE trial_id='t00001'")
    con.close()
    with pytest.raises(sources.SourceError, match=r"t00001.*'metrics'.*not valid JSON"):
        sources.trials(path)
    rows = store_rows(2)
    rows[1]["metrics"]["test"]["accuracy"] = 91.5  # a percentage where a fraction belongs
    with pytest.raises(sources.SourceError, match=r"t00001.*metrics.test.accuracy.*91.5"):
        sources.trials_frame(rows, "x.sqlite")


def test_studies_loader_reports_invalid_rows(tmp_path):
    good = make_studies(tmp_path / "studies.csv")
    assert len(sources.studies(good)) == len(STUDIES)
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text().replace("0.91", "91"), encoding="utf-8")
    with pytest.raises(sources.SourceError) as err:
        sources.studies(bad)
    assert "accuracy" in err.value.problem and "row 1" in err.value.problem and err.value.path == str(bad)


def test_table2_shipped_and_malformed(tmp_path, repo_root):
    table = sources.table2(repo_root / "data" / "ho_kim_2021_table2.csv")
    assert len(table) == 21 and table["source"].str.contains("Table 2").all()
    bad = tmp_path / "t2.csv"
    text = (repo_root / "data" / "ho_kim_2021_table2.csv").read_text(encoding="utf-8")
    bad.write_text(text.replace(",0.97,0.85,0.95,", ",97,0.85,0.95,", 1), encoding="utf-8")
    with pytest.raises(sources.SourceError, match=r"row 1, column 'auc_weighted'.*outside"):
        sources.table2(bad)


def test_reading_a_store_writes_nothing_and_keeps_its_cache(tmp_path):
    """The dashboard is a viewer: reading leaves the store's bytes and time stamp as they were, and a second
    read is served from the cache (SQLite's empty -wal side file, which a WAL reader may create, is no change)."""
    store = make_store(tmp_path / "results.sqlite", n=6, failed=1)
    before = (store.stat().st_mtime_ns, store.read_bytes())
    key = sources.store_stamp(store)
    frame = sources.trials(store)
    assert len(frame) == 7 and frame.loc[frame["status"] == "failed", "error_summary"].tolist() == [
        "MemoryError: out of memory"]
    assert (store.stat().st_mtime_ns, store.read_bytes()) == before
    assert sources.store_stamp(store) == key
