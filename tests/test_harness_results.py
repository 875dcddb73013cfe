"""The results store: reads never write, one transaction per row, a schema version, old stores readable,
and one flattening of a row shared by `harness results` and the dashboard."""
from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.cli import main
from harness.results import (SCHEMA_VERSION, TRIAL_COLUMNS, ResultStore, RowError, StoreError, TrialAlreadyDone,
                             flatten)

LEGACY = Path(__file__).parent / "fixtures" / "harness" / "store-6e81d96.sqlite"   # written by commit 6e81d96's code


def _row(tid: str, status: str = "done", **extra) -> dict:
    return {"trial_id": tid, "sweep": "s", "status": status, "backbone": "CBR-Tiny", "strategy": "full_finetune",
            "weights": "none", "weights_label": "none (random initialisation)", "seed": 0, "train_patients": 4,
            "config": {"a": 1}, "metrics": {"test": {"accuracy": 0.5, "confusion_matrix": [[1, 0, 0], [0, 1, 0],
                                                                                         [0, 0, 1]]}},
            "timings": {"total_s": 1.0}, "versions": {"keras": "x"}, "backend": "tensorflow", "device": "cpu",
            "machine": "{}", **extra}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pragma(path: Path, name: str):
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as con:
        return con.execute(f"PRAGMA {name}").fetchone()[0]


@pytest.fixture
def legacy(tmp_path) -> Path:
    path = tmp_path / "results.sqlite"
    shutil.copy(LEGACY, path)
    return path


def test_writes_stamp_the_schema_version_and_round_trip_json(tmp_path):
    store = ResultStore(tmp_path / "runs" / "x" / "r.sqlite")
    assert not store.path.exists()                    # constructing touches nothing
    store.record(_row("a"))
    assert _pragma(store.path, "user_version") == SCHEMA_VERSION and _pragma(store.path, "journal_mode") == "wal"
    (row,) = store.rows()
    assert row["config"] == {"a": 1} and row["metrics"]["test"]["accuracy"] == 0.5
    assert store.done_ids() == {"a"}
    frame = store.frame()
    assert list(frame.columns) == TRIAL_COLUMNS
    assert list(frame["accuracy"]) == [0.5] and frame.loc[0, "weights_label"].startswith("none")


def test_reading_never_writes(legacy, tmp_path):
    # a rollback-journal store of the old layout: a reader must not switch it to WAL or stamp a version
    with sqlite3.connect(legacy) as con:
        con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    before = _digest(legacy)
    store = ResultStore(legacy)
    assert len(store.rows()) == 2 and store.done_ids() == {"0a1b2c3d4e5f6071"} and len(store.frame()) == 2
    assert main(["results", "--store", str(legacy), "--csv", "--failed"]) == 0
    assert main(["results", "--store", str(legacy), "--json"]) == 0
    assert _digest(legacy) == before
    assert _pragma(legacy, "journal_mode") == "delete" and _pragma(legacy, "user_version") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite"]
    # and an absent store stays absent
    assert ResultStore(tmp_path / "none.sqlite").done_ids() == set()
    assert not (tmp_path / "none.sqlite").exists()


def test_stores_from_commit_6e81d96_are_read_and_then_upgraded(legacy):
    before = _digest(legacy)
    rows = {r["trial_id"]: r for r in ResultStore(legacy).rows()}
    assert _digest(legacy) == before
    done = flatten(rows["0a1b2c3d4e5f6071"])
    assert done["accuracy"] == 0.625 and done["wall_time_s"] == 12.5 and done["peak_memory_mb"] == 1100.0
    assert done["confusion"] == [[4, 2, 0], [6, 45, 9], [0, 19, 11]] and done["train_patients"] == 8
    assert done["dataset"] == "synthetic-3T-n16-s0" and json.loads(done["selected"]) == {"lr": 0.01}
    assert flatten(rows["1a1b2c3d4e5f6071"])["error"].endswith("MemoryError: out of memory")
    store = ResultStore(legacy)
    store.record(_row("new"))                        # the first write stamps the version, keeps the rows
    assert _pragma(legacy, "user_version") == SCHEMA_VERSION
    assert {r["trial_id"] for r in store.rows()} == {"0a1b2c3d4e5f6071", "1a1b2c3d4e5f6071", "new"}


def test_a_newer_schema_version_is_refused_clearly(legacy):
    with sqlite3.connect(legacy) as con:
        con.execute("PRAGMA user_version=7")
    con.close()
    for call in (lambda s: s.rows(), lambda s: s.record(_row("z"))):
        with pytest.raises(StoreError, match="schema version 7 is newer than this harness reads"):
            call(ResultStore(legacy))


@pytest.mark.parametrize("content", [b"not a database at all\n" * 10, b"SQLite format 3\x00" + b"\x01" * 200])
def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path, content):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(content)
    for call in (lambda s: s.rows(), lambda s: s.record(_row("z")), lambda s: s.done_ids()):
        with pytest.raises(StoreError, match="notes.sqlite: .*(not a SQLite results store|cannot)"):
            call(ResultStore(path))
    assert path.read_bytes() == content


def test_another_programs_sqlite_file_is_not_written_into(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE patients (id TEXT)")
    con.close()
    before = _digest(path)
    for call in (lambda s: s.rows(), lambda s: s.record(_row("z"))):
        with pytest.raises(StoreError, match="without a 'trials' table .*tables: \\['patients'\\]"):
            call(ResultStore(path))
    assert _digest(path) == before


def test_store_paths_that_cannot_be_written_fail_clearly(tmp_path):
    afile = tmp_path / "plain.txt"
    afile.write_text("x")
    with pytest.raises(StoreError, match="cannot create its folder"):
        ResultStore(afile / "runs" / "r.sqlite").initialise()
    with pytest.raises(StoreError, match="cannot create its folder"):
        ResultStore("/proc/harness-test/r.sqlite").initialise()
    with pytest.raises(StoreError, match="is a folder"):
        ResultStore(tmp_path).initialise()
    with pytest.raises(StoreError, match="is a folder"):
        ResultStore(tmp_path).rows()
    assert afile.read_text() == "x"


def test_done_trial_cannot_be_recorded_twice_but_failed_can_be_retried(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.record(_row("b", "failed", error="boom"))
    store.record(_row("b", "done"))        # a retry replaces the failed attempt
    with pytest.raises(TrialAlreadyDone, match="already done"):
        store.record(_row("b", "done"))
    with pytest.raises(ValueError):        # TrialAlreadyDone is a ValueError for older callers
        store.record(_row("b", "failed"))
    assert [(r["status"], r["error"]) for r in store.rows()] == [("done", None)]


def test_concurrent_writers_of_one_trial_record_it_once(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultStore(path).initialise()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def write(i: int) -> None:
        barrier.wait()
        try:
            ResultStore(path).record(_row("same", metrics={"writer": i}))
            outcomes.append("recorded")
        except TrialAlreadyDone:
            outcomes.append("refused")
        ResultStore(path).record(_row(f"own-{i}"))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["recorded"] + ["refused"] * 7
    assert len(ResultStore(path).done_ids()) == 9


def test_a_store_appears_complete_to_readers_polling_while_it_is_created(tmp_path):
    problems: list[str] = []
    for i in range(15):
        path = tmp_path / f"s{i}" / "r.sqlite"
        writer = threading.Thread(target=lambda p=path: ResultStore(p).record(_row("a")))
        writer.start()
        while writer.is_alive() or not path.exists():
            if path.exists():
                try:
                    ResultStore(path).rows()
                except StoreError as exc:             # an empty or half-made store
                    problems.append(str(exc))
        writer.join()
        assert [r["trial_id"] for r in ResultStore(path).rows()] == ["a"]
        assert sorted(p.name for p in path.parent.iterdir() if not p.name.startswith("r.sqlite")) == []
    assert problems == []


@pytest.mark.parametrize("bad,text", [
    ({"trial_id": ""}, "trial_id must be non-empty"),
    ({"status": "running"}, "status must be one of done, failed"),
    ({"config": None}, "carries its config"),
    ({"metrics": [1, 2]}, "metrics must be a mapping"),
])
def test_malformed_rows_are_refused_before_anything_is_written(tmp_path, bad, text):
    store = ResultStore(tmp_path / "r.sqlite")
    with pytest.raises(RowError, match=text):
        store.record({**_row("x"), **bad})
    assert not store.path.exists()


def test_flatten_names_every_column_once_and_reads_throughput():
    row = _row("t", timings={"total_s": 3.0, "peak_rss_mb": 10.0, "throughput": {
        "cache_fill": {"images": 100, "seconds": 2.0, "images_per_s": 50.0, "share_of_reference": 0.25}}})
    flat = flatten(row)
    assert list(flat) == TRIAL_COLUMNS and len(set(TRIAL_COLUMNS)) == len(TRIAL_COLUMNS)
    assert flat["images_per_s_cache_fill"] == 50.0 and flat["share_of_reference_cache_fill"] == 0.25
    assert flat["images_per_s_test"] is None and flat["wall_time_s"] == 3.0
    text = flatten({**row, "metrics": json.dumps(row["metrics"]), "config": json.dumps(row["config"])})
    assert text["accuracy"] == 0.5 and json.loads(text["config"]) == {"a": 1}
    with pytest.raises(RowError, match="trial 't', column 'metrics': not valid JSON"):
        flatten({**row, "metrics": "{oops"})


def test_results_command_exports_csv_json_and_failures(tmp_path, capsys):
    store = ResultStore(tmp_path / "r.sqlite")
    store.record(_row("x1", metrics={"test": {"accuracy": 0.75, "confusion_matrix": [[1, 2, 3], [0, 1, 0], [0, 0, 1]]}}))
    store.record(_row("x2", "failed", error="Traceback (most recent call last):\n  ...\nValueError: no patients"))
    assert main(["results", "--csv", "--store", str(store.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join(TRIAL_COLUMNS) and len(lines) == 2
    assert "0.75" in lines[1] and '"[[1, 2, 3], [0, 1, 0], [0, 0, 1]]"' in lines[1]
    assert main(["results", "--json", "--store", str(store.path)]) == 0
    assert [r["trial_id"] for r in json.loads(capsys.readouterr().out)] == ["x1"]
    assert main(["results", "--failed", "--store", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "1 failed trial(s)" in out and "x2" in out and "ValueError: no patients" in out


@pytest.mark.parametrize("make,text", [
    (lambda p: p.write_bytes(b"hello, not sqlite" * 30), "not a SQLite results store"),
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: None, "no results store here"),
])
def test_results_command_on_bad_stores_exits_2_without_traceback(tmp_path, capsys, make, text):
    path = tmp_path / "r.sqlite"
    make(path)
    assert main(["results", "--store", str(path)]) == 2
    err = capsys.readouterr().err
    assert text in err and str(path) in err and "Traceback" not in err


def test_results_package_does_not_import_keras_or_tensorflow():
    code = ("import sys, harness.results, harness.results.export; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow', 'jax', 'torch', 'streamlit')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
