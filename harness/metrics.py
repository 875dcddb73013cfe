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


def _safe_auc(y_true: np.ndarray, proba: np.ndarray, n: int, average: str) -> float | None:
    present = np.unique(y_true)
    if len(present) < 2:
        return None
    if len(present) < n:  # a class absent from the test set: score only the present ones
        cols = present.tolist()
        p = proba[:, cols] / np.clip(proba[:, cols].sum(axis=1, keepdims=True), 1e-12, None)
        if len(cols) == 2:
            return float(roc_auc_score(y_true == cols[1], p[:, 1]))
        return float(roc_auc_score(y_true, p, multi_class="ovr", average=average, labels=cols))
    return float(roc_auc_score(y_true, proba, multi_class="ovr", average=average, labels=list(range(n))))


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, table: pd.DataFrame | None = None,
                           labels: tuple[str, ...] = DEFAULT_LABELS) -> dict:
    """All test metrics as a flat JSON-ready dict (per-class keys like `f1_OAP`)."""
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
    out["auc_macro"] = _safe_auc(y_true, proba, n, "macro")
    out["auc_weighted"] = _safe_auc(y_true, proba, n, "weighted")
    out["soft_accuracy"] = soft_accuracy(y_true, y_pred, table) if table is not None else None
    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=list(range(n))).tolist()
    return out
