"""The Ho & Kim (2021) protocol around any learner.

Patient-level k-fold CV over the candidate grid (learning rates, or classifier
hyperparameters); the epoch and candidate are chosen on the validation curve averaged
over folds; a final model is fitted on all training patients for that many epochs and
evaluated once on the held-out test patients.
"""
from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from .metrics import classification_metrics


def patient_indices(table, patients) -> np.ndarray:
    """Row indices of `table` belonging to the given patients (sorted)."""
    wanted = set(map(str, patients))
    return np.flatnonzero(table["patient"].astype(str).isin(wanted).to_numpy())


def make_folds(table, train_patients, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Patient-level folds (harness.data.patient_kfold) as row indices into `table`."""
    from .data import patient_kfold

    sub = table[table["patient"].astype(str).isin(set(map(str, train_patients)))]
    if sub["patient"].nunique() < n_folds:
        raise ValueError(f"{sub['patient'].nunique()} training patients cannot make {n_folds} folds; "
                         "lower protocol.folds or raise train_patients")
    return [(patient_indices(table, tr), patient_indices(table, va))
            for tr, va in patient_kfold(sub, n_splits=n_folds, seed=seed)]


def cross_validate(learner, folds, progress: bool = False) -> dict:
    """Mean validation curve per candidate; the best (candidate, epoch) by lowest score."""
    candidates = learner.candidates()
    epochs = learner.epochs()
    curves = np.full((len(candidates), len(folds), epochs), np.nan)
    steps = tqdm(total=len(candidates) * len(folds), desc=f"cv {learner.name}", leave=False, disable=not progress)
    for c, cand in enumerate(candidates):
        for f, (tr, va) in enumerate(folds):
            curve = learner.curve(tr, va, cand, epochs)
            curves[c, f, :len(curve)] = curve
            steps.update()
    steps.close()
    mean = curves.mean(axis=1)
    c, e = np.unravel_index(np.nanargmin(mean), mean.shape)
    return {"candidate": candidates[c], "epochs": int(e + 1), "score": float(mean[c, e]),
            "mean_curves": {_cand_label(cand): [round(float(v), 6) for v in mean[i]] for i, cand in enumerate(candidates)}}


def _cand_label(candidate: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(candidate.items())) or "default"


def run_protocol(learner, table, train_idx: np.ndarray, test_idx: np.ndarray,
                 folds: list[tuple[np.ndarray, np.ndarray]], progress: bool = False) -> dict:
    """CV selection → final fit on all training rows → one test evaluation. Returns metrics + timings."""
    timings = {}
    t0 = time.perf_counter()
    learner.prepare(folds, train_idx)
    timings["prepare_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    selection = cross_validate(learner, folds, progress)
    timings["cv_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    learner.fit(train_idx, selection["candidate"], selection["epochs"])
    timings["final_fit_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    proba = learner.predict_proba(test_idx)
    timings["test_s"] = time.perf_counter() - t0
    timings["test_images_per_s"] = len(test_idx) / max(timings["test_s"], 1e-9)
    metrics = classification_metrics(learner.ctx.y[test_idx], proba, table.iloc[test_idx])
    return {"metrics": metrics, "selection": selection, "timings": timings, "proba": proba}
