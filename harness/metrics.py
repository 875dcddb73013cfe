"""Test-set metrics of the Ho & Kim protocol, computed with scikit-learn where it has them.

Naming: the paper's "micro-averaged AUC" is the class-frequency-weighted mean of the
one-vs-rest AUCs, i.e. scikit-learn's `average="weighted"`; here it is called
`auc_weighted`, never "micro".
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, roc_auc_score

DEFAULT_LABELS = ("OAP", "IN", "OBS")


def soft_accuracy(y_true: np.ndarray, y_pred: np.ndarray, table: pd.DataFrame) -> float:
    """Share of predictions equal to the slice's class or to an adjacent slice's class.

    Adjacent = same patient and frame, slice_index ± 1 (rows of `table` aligned with y).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if len(table) != len(y_true):
        raise ValueError(f"table has {len(table)} rows but there are {len(y_true)} labels")
    keys = list(zip(table["patient"].astype(str), table["frame"].astype(str), table["slice_index"].astype(int)))
    label_at = dict(zip(keys, y_true.tolist()))
    hits = 0
    for (patient, frame, s), truth, pred in zip(keys, y_true.tolist(), y_pred.tolist()):
        ok = pred == truth or label_at.get((patient, frame, s - 1)) == pred or label_at.get((patient, frame, s + 1)) == pred
        hits += bool(ok)
    return hits / max(len(keys), 1)


def per_class_auc(y_true: np.ndarray, scores: np.ndarray, n: int) -> list[float | None]:
    """One-vs-rest AUC of each class from its own score column (None if it or the rest is absent).

    Column k ranks the test samples for class k; nothing is renormalised across columns,
    so a class absent from the test set does not change the AUC of the others.
    """
    out: list[float | None] = []
    for k in range(n):
        positive = y_true == k
        out.append(float(roc_auc_score(positive, scores[:, k])) if 0 < positive.sum() < len(y_true) else None)
    return out


def _average(values: list[float | None], weights: np.ndarray) -> float | None:
    """Mean (weights: 1 = macro, class counts = the paper's "micro" = weighted) over classes with an AUC."""
    keep = [i for i, v in enumerate(values) if v is not None]
    if not keep:
        return None
    return float(np.average([values[i] for i in keep], weights=np.asarray(weights, dtype=float)[keep]))


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, table: pd.DataFrame | None = None,
                           labels: tuple[str, ...] = DEFAULT_LABELS, score_kind: str | None = None) -> dict:
    """All test metrics as a flat JSON-ready dict (per-class keys like `f1_OAP`, `auc_OAP`).

    `proba` holds one score column per class (argmax = the prediction); `score_kind` says
    what they are (softmax probabilities, SVM decision values, ...) and is recorded with the metrics.
    AUCs are one-vs-rest per class; `auc_macro` and `auc_weighted` average the classes
    present in the test set (weighted by their counts: the paper's "micro-averaged AUC").
    """
    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype="float64")
    n = len(labels)
    y_pred = proba.argmax(axis=1)
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=list(range(n)), zero_division=0)
    out: dict = {"n_test": int(len(y_true)), "accuracy": float(accuracy_score(y_true, y_pred))}
    for i, name in enumerate(labels):
        out[f"precision_{name}"] = float(p[i])
        out[f"recall_{name}"] = float(r[i])
        out[f"f1_{name}"] = float(f[i])
        out[f"support_{name}"] = int(support[i])
    out["f1_macro"] = float(np.mean(f))
    aucs = per_class_auc(y_true, proba, n)
    for name, auc in zip(labels, aucs):
        out[f"auc_{name}"] = auc
    out["auc_macro"] = _average(aucs, np.ones(n))
    out["auc_weighted"] = _average(aucs, np.bincount(y_true, minlength=n))
    out["score_kind"] = score_kind
    out["soft_accuracy"] = soft_accuracy(y_true, y_pred, table) if table is not None else None
    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=list(range(n))).tolist()
    return out
