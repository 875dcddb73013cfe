"""Patient-level splits: no image of a test patient ever reaches training."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError


def patient_kfold(table: pd.DataFrame, n_splits: int = 5, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    """(train_patients, test_patients) per fold; folds balance the image class mix (StratifiedGroupKFold)."""
    patients = table["patient"].astype(str).to_numpy()
    n_pat = len(set(patients))
    if n_pat < n_splits:
        raise DataError(None, f"{n_pat} patients cannot make {n_splits} patient-level folds",
                        "use fewer folds or more patients")
    from sklearn.model_selection import StratifiedGroupKFold

    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = []
    for tr, te in cv.split(np.zeros(len(table)), table["label"].astype(str).to_numpy(), groups=patients):
        folds.append((sorted(set(patients[tr])), sorted(set(patients[te]))))
    return folds


def train_test_patients(table: pd.DataFrame, test_fraction: float = 0.5, seed: int = 0) -> tuple[list[str], list[str]]:
    """Hold out about `test_fraction` of patients, drawn within strata of per-patient OAP/OBS counts."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    counts = pd.crosstab(table["patient"].astype(str), table["label"])
    for lab in ("OAP", "OBS"):
        if lab not in counts:
            counts[lab] = 0
    stratum = (np.minimum(counts["OAP"], 4).astype(str) + "-" + np.minimum(counts["OBS"], 4).astype(str))
    rng = np.random.default_rng(seed)
    order = sorted(counts.index)
    test: list[str] = []
    carry = 0.0
    for key in sorted(stratum.unique()):
        members = [p for p in order if stratum[p] == key]
        rng.shuffle(members)
        want = len(members) * test_fraction + carry
        k = int(np.floor(want + 0.5))
        carry = want - k
        test += members[:k]
    if not test or len(test) == len(order):
        raise DataError(None, f"{len(order)} patients cannot be split with test_fraction={test_fraction}",
                        "use more patients")
    return sorted(set(order) - set(test)), sorted(test)


def training_subset(train_patients: list[str], n: int | None, seed: int) -> list[str]:
    """`n` of the training patients drawn with the trial seed (learning curves); all when n is None."""
    if n is None:
        return list(train_patients)
    if n > len(train_patients):
        raise DataError(None, f"train_patients={n} but only {len(train_patients)} training patients exist",
                        "lower train_patients, raise the data's patient count or lower data.test_fraction")
    return sorted(np.random.default_rng(seed).choice(sorted(train_patients), size=n, replace=False).tolist())
