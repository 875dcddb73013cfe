"""The Ho & Kim (2021) protocol around any strategy.

Patient-level k-fold CV over the candidate grid (learning rates, or classifier
hyperparameters); the epoch and candidate are chosen on the validation curve averaged over
folds (mean validation accuracy, as the paper; or log loss); a final model is fitted on all
training patients for that many epochs and evaluated once on the held-out test patients.
A strategy with a warm start (partial fine-tuning: the feature-extractor head) has that
selection made first, on the same folds.
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


def patient_folds(patients, n_folds: int, seed: int) -> list[list[str]]:
    """Patients in `n_folds` folds of equal size (±1): a seeded permutation cut in consecutive parts.

    As the paper ("five distinct subsets, each containing image slices from 20 patients")
    and the authors' `k_split`: 100 training patients give five folds of exactly 20.
    """
    ordered = sorted(map(str, patients))
    if len(ordered) < n_folds:
        raise ValueError(f"{len(ordered)} training patients cannot make {n_folds} folds; "
                         "lower protocol.folds or raise train_patients")
    perm = np.random.default_rng(seed).permutation(len(ordered))
    return [sorted(ordered[i] for i in part) for part in np.array_split(perm, n_folds)]


def make_folds(table, train_patients, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, validation rows) per fold; each fold validates on its own patients."""
    folds = patient_folds(train_patients, n_folds, seed)
    return [(patient_indices(table, [p for j, f in enumerate(folds) if j != i for p in f]), patient_indices(table, fold))
            for i, fold in enumerate(folds)]


def cross_validate(learner, folds, progress: bool = False) -> dict:
    """Mean validation curve per candidate; the best (candidate, epoch) by the strategy's criterion.

    Ties go to the first candidate in grid order and the earliest epoch.
    """
    candidates = learner.candidates()
    epochs = learner.epochs()
    curves = np.full((len(candidates), len(folds), epochs), np.nan)
    steps = tqdm(total=len(candidates) * len(folds), desc=f"cv {learner.name}", leave=False, disable=not progress)
    for f, (tr, va) in enumerate(folds):
        for c, curve in enumerate(learner.curves(tr, va, candidates, epochs)):
            curves[c, f, :len(curve)] = curve
        steps.update(len(candidates))
    steps.close()
    mean = curves.mean(axis=1)
    best = np.nanargmax(mean) if learner.higher_is_better else np.nanargmin(mean)
    c, e = np.unravel_index(best, mean.shape)
    return {"candidate": candidates[c], "epochs": int(e + 1), "score": float(mean[c, e]),
            "criterion": learner.settings.select_on,
            "mean_curves": {_cand_label(cand): [round(float(v), 6) for v in mean[i]] for i, cand in enumerate(candidates)}}


def _cand_label(candidate: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(candidate.items())) or "default"


def run_protocol(learner, table, train_idx: np.ndarray, test_idx: np.ndarray,
                 folds: list[tuple[np.ndarray, np.ndarray]], progress: bool = False) -> dict:
    """[warm-start selection] → CV selection → final fit on all training rows → one test evaluation."""
    timings = {}
    warm = learner.warm_start()
    if warm is not None:
        t0 = time.perf_counter()
        warm.prepare(train_idx)
        learner.use_warm_start(cross_validate(warm, folds, progress))
        timings["warm_start_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    learner.prepare(train_idx)
    timings["prepare_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    selection = cross_validate(learner, folds, progress)
    timings["cv_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    learner.fit(train_idx, selection["candidate"], selection["epochs"])
    timings["final_fit_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = learner.predict_scores(test_idx)
    timings["test_s"] = time.perf_counter() - t0
    timings["test_images_per_s"] = len(test_idx) / max(timings["test_s"], 1e-9)
    metrics = classification_metrics(learner.ctx.y[test_idx], scores, table.iloc[test_idx],
                                     score_kind=learner.score_kind)
    return {"metrics": metrics, "selection": selection, "timings": timings, "scores": scores}
