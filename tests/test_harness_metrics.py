"""Metrics agree with scikit-learn on hand-made cases; soft accuracy on a constructed stack."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from harness.metrics import classification_metrics, soft_accuracy


def _stack_table(labels_by_slice: list[str], patient="p1", frame="ED") -> pd.DataFrame:
    return pd.DataFrame({"patient": patient, "frame": frame, "slice_index": range(len(labels_by_slice))})


def test_metrics_match_sklearn_on_hand_made_case():
    y = np.array([0, 0, 1, 1, 1, 2, 2, 1, 0, 2])
    proba = np.array([[.7, .2, .1], [.3, .6, .1], [.1, .8, .1], [.2, .5, .3], [.1, .3, .6],
                      [.1, .1, .8], [.2, .2, .6], [.3, .4, .3], [.5, .4, .1], [.4, .5, .1]])
    pred = proba.argmax(1)
    m = classification_metrics(y, proba)
    assert m["accuracy"] == pytest.approx(np.mean(pred == y))
    for i, name in enumerate(("OAP", "IN", "OBS")):
        assert m[f"f1_{name}"] == pytest.approx(f1_score(y, pred, labels=[i], average=None)[0])
        assert m[f"precision_{name}"] == pytest.approx(precision_score(y, pred, labels=[i], average=None)[0])
        assert m[f"recall_{name}"] == pytest.approx(recall_score(y, pred, labels=[i], average=None)[0])
    assert m["auc_macro"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert m["auc_weighted"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="weighted"))
    assert m["auc_macro"] != pytest.approx(m["auc_weighted"])  # the case tells the two apart
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 3, 1], [0, 1, 2]]


def test_weighted_auc_is_frequency_weighted_mean_of_one_vs_rest():
    """The paper's 'micro' AUC = class-frequency-weighted one-vs-rest mean (sklearn 'weighted')."""
    rng = np.random.default_rng(0)
    y = np.array([0] * 5 + [1] * 20 + [2] * 7)
    proba = rng.dirichlet([1, 1, 1], size=len(y))
    per_class = [roc_auc_score(y == k, proba[:, k]) for k in range(3)]
    expected = np.average(per_class, weights=np.bincount(y))
    assert classification_metrics(y, proba)["auc_weighted"] == pytest.approx(expected)


def test_soft_accuracy_counts_adjacent_slices_only_in_same_stack():
    # stack p1/ED: OAP IN IN IN OBS ; predictions off by one class at the borders
    table = _stack_table(["OAP", "IN", "IN", "IN", "OBS"])
    y = np.array([0, 1, 1, 1, 2])
    pred = np.array([1, 0, 1, 2, 1])   # slice0 IN: neighbour slice1 is IN -> ok; slice1 OAP: slice0 OAP -> ok
    #                                   slice3 OBS: neighbour slice4 OBS -> ok; slice4 IN: slice3 IN -> ok
    assert soft_accuracy(y, pred, table) == 1.0
    assert soft_accuracy(y, np.array([2, 1, 1, 1, 0]), table) == pytest.approx(3 / 5)


def test_soft_accuracy_ignores_other_frames_and_patients():
    table = pd.concat([_stack_table(["OAP", "IN"], "p1", "ED"), _stack_table(["OBS", "OBS"], "p1", "ES"),
                       _stack_table(["IN", "IN"], "p2", "ED")], ignore_index=True)
    y = np.array([0, 1, 2, 2, 1, 1])
    pred = np.array([2, 1, 2, 2, 0, 1])  # row0 OBS: only p1/ES has OBS -> wrong; row4 OAP: p2 has none -> wrong
    assert soft_accuracy(y, pred, table) == pytest.approx(4 / 6)


def test_auc_none_when_test_set_has_one_class():
    m = classification_metrics(np.array([1, 1, 1]), np.array([[.1, .8, .1]] * 3))
    assert m["auc_macro"] is None and m["accuracy"] == 1.0


def test_per_class_auc_is_each_class_against_the_rest_on_its_own_column():
    y = np.array([0, 0, 1, 1, 1, 2, 2, 1, 0, 2])
    scores = np.random.default_rng(3).dirichlet([1, 1, 1], size=len(y))
    m = classification_metrics(y, scores, score_kind="softmax probability")
    for k, name in enumerate(("OAP", "IN", "OBS")):
        assert m[f"auc_{name}"] == pytest.approx(roc_auc_score(y == k, scores[:, k]))
    assert m["auc_weighted"] == pytest.approx(roc_auc_score(y, scores, multi_class="ovr", average="weighted"))
    assert m["score_kind"] == "softmax probability"


def test_auc_when_a_class_is_absent_from_the_test_set():
    """No OAP in the test set: auc_OAP is None; the others use their own, un-renormalised columns."""
    y = np.array([1, 1, 1, 2, 2, 1, 2, 1])
    scores = np.array([[.6, .3, .1], [.1, .5, .4], [.2, .7, .1], [.5, .2, .3], [.1, .3, .6],
                       [.7, .2, .1], [.3, .4, .3], [.05, .9, .05]])
    m = classification_metrics(y, scores)
    assert m["auc_OAP"] is None
    auc_in, auc_obs = roc_auc_score(y == 1, scores[:, 1]), roc_auc_score(y == 2, scores[:, 2])
    assert m["auc_IN"] == pytest.approx(auc_in) and m["auc_OBS"] == pytest.approx(auc_obs)
    assert m["auc_macro"] == pytest.approx((auc_in + auc_obs) / 2)
    assert m["auc_weighted"] == pytest.approx((5 * auc_in + 3 * auc_obs) / 8)
    renormalised = scores[:, 2] / scores[:, 1:].sum(axis=1)         # dividing out the absent class's column
    assert roc_auc_score(y == 2, renormalised) != pytest.approx(auc_obs)  # would change the ranking here


def test_auc_works_on_scores_that_are_not_probabilities():
    """SVM decision values: rows need not sum to 1; AUC only ranks each column."""
    y = np.array([0, 1, 2, 1, 0, 2, 1, 1])
    decision = np.array([[2.2, 0.8, -.1], [0.9, 2.1, 0.2], [-.2, 1.1, 2.3], [1.8, 2.2, -.1], [2.1, 0.9, 0.1],
                         [0.8, 0.2, 2.2], [-.1, 2.2, 0.9], [1.1, 2.0, -.2]])
    m = classification_metrics(y, decision, score_kind="SVM one-vs-rest decision values (not probabilities)")
    for k, name in enumerate(("OAP", "IN", "OBS")):
        assert m[f"auc_{name}"] == pytest.approx(roc_auc_score(y == k, decision[:, k]))
    assert m["accuracy"] == pytest.approx(np.mean(decision.argmax(1) == y))
