"""Every command that takes a path: a bad one gives a clear error naming it (no traceback), found
before any work, and nothing is written or lost."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from harness.cli import main as harness
from harness.data.dataset import CardiacDataset
from review.cli import main as review


def toy_dataset(path, n_patients: int = 4, slices: int = 5) -> None:
    """A tiny dataset folder (images.npz + table.csv), every class present."""
    rows, rng = [], np.random.default_rng(0)
    for p in range(n_patients):
        for frame in ("ED", "ES"):
            for s in range(slices):
                label = "OAP" if s == 0 else "OBS" if s == slices - 1 else "IN"
                rows.append({"patient": f"p{p}", "frame": frame, "slice_index": s, "slice_position": 8.0 * s,
                             "label": label, "source": "toy", "domain": "toy", "pixel_spacing": 1.0})
    CardiacDataset(rng.uniform(0, 100, (len(rows), 24, 24)).astype("float32"), pd.DataFrame(rows)).save(path)


def sweep_config(tmp_path, spec: str, **extra) -> str:
    cfg = {"name": "paths", "data": {"spec": spec, "image_size": 24}, "protocol": {"folds": 2},
           "training": {"epochs": 1}, "cache_dir": str(tmp_path / "cache"),
           "grid": [{"backbone": "CBR-Tiny", "input_size": 32, "strategy": "full_finetune", **extra}]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _no_traceback(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.fixture
def afile(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("keep me")
    return path


# ------------------------------------------------------------------ harness sweep: data and store
@pytest.mark.parametrize("make,text", [
    (lambda p: p.mkdir(), "is an empty folder"),
    (lambda p: (p.mkdir(), (p / "notes.txt").write_text("x")), "is not a recognised data folder"),
    (lambda p: None, "does not exist"),
    (lambda p: p.write_text("x"), "is a file, not a data folder"),
    (lambda p: (toy_dataset(p), (p / "images.npz").write_bytes(b"truncated")), "images.npz: unreadable"),
])
def test_sweep_checks_the_data_before_the_first_trial(tmp_path, capsys, make, text):
    data = tmp_path / "data"
    make(data)
    store = tmp_path / "runs" / "r.sqlite"
    for extra in ([], ["--dry-run"]):
        assert harness(["sweep", sweep_config(tmp_path, str(data)), "--store", str(store), *extra]) == 2
        err = _no_traceback(capsys)
        assert str(data) in err and text in err and "data.spec" in err
    assert not store.exists() and not store.parent.exists()


def test_sweep_refuses_more_training_patients_than_the_split_leaves(tmp_path, capsys):
    data = tmp_path / "data"
    toy_dataset(data, n_patients=4)
    store = tmp_path / "r.sqlite"
    assert harness(["sweep", sweep_config(tmp_path, str(data), train_patients=[3]), "--store", str(store)]) == 2
    assert "train_patients=3 but only 2 training patients exist" in _no_traceback(capsys)
    assert harness(["sweep", sweep_config(tmp_path, "synthetic:3T?patients=2"), "--store", str(store)]) == 2
    assert "1 training patients cannot make protocol.folds = 2 patient-level folds" in _no_traceback(capsys)
    assert not store.exists()


def test_sweep_refuses_a_data_spec_that_lacks_a_class(tmp_path, capsys):
    data = tmp_path / "data"
    toy_dataset(data)
    table = pd.read_csv(data / "table.csv")
    table.loc[table["label"] == "OBS", "label"] = "IN"
    table.to_csv(data / "table.csv", index=False)
    assert harness(["sweep", sweep_config(tmp_path, str(data)), "--dry-run"]) == 2
    assert "no images of class OBS" in _no_traceback(capsys)


@pytest.mark.parametrize("where", ["under_file", "proc", "not_sqlite", "folder"])
def test_sweep_refuses_a_store_it_cannot_write_before_any_trial(tmp_path, capsys, afile, where):
    data = tmp_path / "data"
    toy_dataset(data)
    store = {"under_file": afile / "r.sqlite", "proc": "/proc/harness-test/r.sqlite", "not_sqlite": afile,
             "folder": tmp_path}[where]
    # a dry run writes nothing, so it cannot prove that /proc refuses a new folder (as root it looks writable)
    for extra in (["--dry-run"], []) if where != "proc" else ([],):
        assert harness(["sweep", sweep_config(tmp_path, str(data)), "--store", str(store), *extra]) == 2
        err = _no_traceback(capsys)
        assert str(store) in err
    assert afile.read_text() == "keep me" and not (tmp_path / "cache").exists()


# ------------------------------------------------------------------ harness data
@pytest.mark.parametrize("args,text", [
    (["--patients", "0"], "--patients: must be an integer >= 1. Got 0 instead."),
    (["--patients", "-4"], "--patients: must be an integer >= 1. Got -4 instead."),
    (["--patients", "two"], "--patients: must be an integer >= 1. Got 'two' instead."),
    (["--image-size", "8"], "--image-size: must be an integer >= 16"),
])
def test_data_synth_rejects_bad_counts(tmp_path, capsys, args, text):
    with pytest.raises(SystemExit) as exit_:
        harness(["data", "synth", "--out", str(tmp_path / "out"), *args])
    assert exit_.value.code == 2 and text in _no_traceback(capsys)
    assert not (tmp_path / "out").exists()


def test_data_synth_checks_out_before_generating(tmp_path, capsys, afile):
    for out in (afile / "cohort", afile, "/proc/harness-test/cohort"):
        assert harness(["data", "synth", "--out", str(out), "--patients", "1"]) == 1
        err = _no_traceback(capsys)
        assert str(out) in err and "--out" in err
    assert afile.read_text() == "keep me"
    assert harness(["data", "synth", "--out", str(tmp_path / "o"), "--patients", "1", "--domain", "9T"]) == 1
    assert "unknown domain '9T'" in _no_traceback(capsys)


def test_data_inspect_and_sim2real_name_bad_paths(tmp_path, capsys, afile):
    (tmp_path / "empty").mkdir()
    assert harness(["data", "inspect", str(tmp_path / "empty")]) == 1
    assert "is an empty folder" in _no_traceback(capsys)
    assert harness(["data", "inspect", "synthetic:3T?patients=1", "--sheet", str(afile / "s.png")]) == 1
    assert f"{afile} is a file" in _no_traceback(capsys)
    assert harness(["data", "sim2real", str(tmp_path / "empty")]) == 1
    assert "empty folder" in _no_traceback(capsys)
    data = tmp_path / "data"
    toy_dataset(data)
    assert harness(["data", "sim2real", str(data)]) == 1
    assert "is not a Sunnybrook folder" in _no_traceback(capsys)


# ------------------------------------------------------------------ harness bench, results
def test_bench_profile_paths_and_names(tmp_path, capsys, afile):
    assert harness(["bench", "--profile", "--backbone", "CBR-Tiny@32", "--out", str(afile / "p.json")]) == 2
    assert f"{afile} is a file" in _no_traceback(capsys)
    assert harness(["bench", "--profile", "--backbone", "VGG61"]) == 2
    assert "unknown backbone 'VGG61'" in _no_traceback(capsys)
    assert harness(["bench", "--profile", "--backbone", "VGG16@8"]) == 2
    assert "integer >= 32" in _no_traceback(capsys)
    assert harness(["bench", str(tmp_path / "missing.yaml")]) == 2
    assert "file not found" in _no_traceback(capsys)


# ------------------------------------------------------------------ review
def test_review_validate_on_a_folder(tmp_path, capsys):
    assert review(["validate", "--csv", str(tmp_path)]) == 2
    err = _no_traceback(capsys)
    assert str(tmp_path) in err and "Is a directory" in err


def test_review_report_out_under_a_file_fails_before_any_work(tmp_path, capsys, afile):
    for out in (afile / "report", afile):
        assert review(["report", "--out", str(out)]) == 2
        err = _no_traceback(capsys)
        assert str(out) in err
    assert afile.read_text() == "keep me"
