"""The strategies learn the toy data; frozen parts stay frozen; cached == naive; runs are pure functions."""
from __future__ import annotations

import json

import numpy as np
import pytest

from harness.protocol import cross_validate, run_protocol
from harness.strategies import STRATEGIES, make_learner

from harness_toy import majority_rate, make_ctx, settings, split, tiny_dataset

LEARN_OPTIONS = {"feature_extractor": {"lrs": [1e-2]},
                 "hybrid_svm": {"C": [1.0, 10.0], "kernel": ["rbf"]},
                 "hybrid_rf": {"n_estimators": [50]},
                 "partial_finetune": {"lrs": [1e-2], "head_lrs": [1e-2], "depth": 1},
                 "full_finetune": {"lrs": [1e-2]}}
SLOW_TO_LEARN = {"partial_finetune", "full_finetune"}


@pytest.fixture(scope="module")
def toy():
    return tiny_dataset()


@pytest.fixture(scope="module")
def toy8():
    return tiny_dataset(n_patients=8)


def _run(ctx, strategy, options, epochs=2, n_train=4, **training):
    train, test, folds = split(ctx, n_train=n_train)
    learner = make_learner(strategy, ctx, settings(epochs=epochs, **training), options)
    return learner, run_protocol(learner, ctx.table, train, test, folds), test


@pytest.mark.parametrize("strategy", [pytest.param(s, marks=pytest.mark.slow) if s in SLOW_TO_LEARN else s
                                      for s in STRATEGIES])
def test_every_strategy_learns_the_toy_data(strategy, toy8, tmp_path):
    """Random-init MobileNet (CBR-Tiny from scratch for full fine-tuning) on 5 training patients.

    Test AUC (weighted one-vs-rest) clearly above chance; the frozen-feature strategies and
    partial fine-tuning also beat the majority-class rate (2/3). Full fine-tuning from
    scratch ranks well after 10 epochs, but its BatchNorm moving statistics still lag, so
    its argmax is not yet better than the majority class.
    """
    backbone = "CBR-Tiny" if strategy == "full_finetune" else "MobileNetV1-0.25"
    epochs = 15 if strategy == "partial_finetune" else 10
    ctx = make_ctx(toy8, tmp_path, backbone=backbone)
    learner, out, test = _run(ctx, strategy, LEARN_OPTIONS[strategy], epochs=epochs, n_train=5)
    m = out["metrics"]
    assert m["auc_weighted"] >= 0.85, m
    if strategy != "full_finetune":
        assert m["accuracy"] >= majority_rate(ctx, test) + 0.1, m
    assert m["score_kind"] == learner.score_kind


def test_feature_extractor_leaves_the_base_bit_identical(toy, tmp_path):
    ctx = make_ctx(toy, tmp_path, cached=False)   # naive: the base is inside the trained model
    before = [w.copy() for w in ctx.base.get_weights()]
    learner = make_learner("feature_extractor", ctx, settings(), {"lrs": [0.1]})
    train, _, _ = split(ctx)
    learner.prepare(train)
    learner.reset(0.1)
    head = learner.model.get_layer("head_dense").get_weights()[0].copy()
    learner.fit(train, {"lr": 0.1}, 2)
    after = ctx.base.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))   # incl. BatchNorm moving stats
    assert not np.array_equal(head, learner.model.get_layer("head_dense").get_weights()[0])


@pytest.mark.parametrize("cached", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_partial_finetune_changes_only_the_last_block_and_head(toy, tmp_path, cached):
    ctx = make_ctx(toy, tmp_path, cached=cached)
    base = ctx.base
    before = {l.name: [w.copy() for w in l.get_weights()] for l in base.layers}
    _run(ctx, "partial_finetune", {"lrs": [0.05], "head_lrs": [0.05], "depth": 1})
    boundary = ctx.backbone.boundary_index(base, 1)
    tail_names = {l.name for l in base.layers[boundary:]}
    changed = {l.name for l in base.layers
               if any(not np.array_equal(a, b) for a, b in zip(before[l.name], l.get_weights()))}
    assert changed, "partial fine-tuning trained nothing in the base"
    assert changed <= tail_names, f"layers outside the last block changed: {sorted(changed - tail_names)}"
    assert {"conv_dw_13", "conv_pw_13", "conv_pw_13_bn"} <= changed


@pytest.mark.parametrize("strategy", ["partial_finetune", "full_finetune"])
def test_batchnorm_frozen_keeps_moving_statistics_while_the_weights_train(toy, tmp_path, strategy):
    """training.batchnorm: frozen = inference-mode BatchNorm in the unfrozen layers; train = Keras 2.2's default."""
    from harness.weights import batchnorm_layers

    # the last block's conv and BatchNorm: MobileNet's for partial, CBR-Tiny's (from scratch) for full
    backbone, conv_name, bn_name = {"partial_finetune": ("MobileNetV1-0.25", "conv_pw_13", "conv_pw_13_bn"),
                                    "full_finetune": ("CBR-Tiny", "cbr4_conv", "cbr4_bn")}[strategy]
    results = {}
    for mode in ("frozen", "train"):
        ctx = make_ctx(toy, tmp_path / mode, backbone=backbone)
        norms = {l.name: [w.copy() for w in l.get_weights()] for l in batchnorm_layers(ctx.base)}
        conv = ctx.base.get_layer(conv_name).get_weights()[0].copy()
        learner = make_learner(strategy, ctx, settings(epochs=1, batchnorm=mode), LEARN_OPTIONS[strategy])
        train, _, folds = split(ctx)
        if strategy == "partial_finetune":
            learner.warm_start().prepare(train)
            learner.use_warm_start(cross_validate(learner.warm_start(), folds))
        learner.prepare(train)
        learner.fit(train, {"lr": 0.05}, 1)
        moved = {l.name for l in batchnorm_layers(ctx.base)
                 if any(not np.array_equal(a, b) for a, b in zip(norms[l.name], l.get_weights()))}
        assert not np.array_equal(conv, ctx.base.get_layer(conv_name).get_weights()[0])   # weights trained
        results[mode] = moved
    assert results["frozen"] == set()                      # gamma, beta, moving mean and variance untouched
    assert bn_name in results["train"]


@pytest.mark.parametrize("strategy", ["feature_extractor", pytest.param("partial_finetune", marks=pytest.mark.slow),
                                      "hybrid_svm"])
def test_cached_and_naive_paths_give_the_same_predictions(toy, tmp_path, strategy):
    options = {"feature_extractor": {"lrs": [1e-2, 1e-3]}, "hybrid_svm": {"C": [1.0, 10.0], "kernel": ["rbf"]},
               "partial_finetune": {"lrs": [1e-2, 1e-3], "head_lrs": [1e-2], "depth": 1}}[strategy]
    results = {}
    for cached in (False, True):
        ctx = make_ctx(toy, tmp_path, cached=cached, copies=2)
        results[cached] = _run(ctx, strategy, options)[1]
    assert results[True]["selection"]["candidate"] == results[False]["selection"]["candidate"]
    assert np.allclose(results[True]["scores"], results[False]["scores"], atol=1e-4)


def _cached_vs_naive(ds, tmp_path, strategy, options, **ctx_kwargs):
    out = {}
    for cached in (False, True):
        ctx = make_ctx(ds, tmp_path / str(cached), cached=cached, **ctx_kwargs)
        out[cached] = _run(ctx, strategy, options)[1]
    return out


@pytest.mark.slow
def test_cached_equals_naive_at_a_first_trainable_boundary(toy, tmp_path):
    """first_trainable: conv_pw_13 splits the last block in two; both paths train the same layers."""
    out = _cached_vs_naive(toy, tmp_path, "partial_finetune", {"lrs": [1e-2], "head_lrs": [1e-2], "depth": 1},
                           first_trainable="conv_pw_13")
    assert np.allclose(out[True]["scores"], out[False]["scores"], atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["file", "source"])
def test_cached_equals_naive_with_weights_from_a_file_or_a_source_run(toy, tmp_path, kind):
    """Pretrained-style weights (no standardiser): the paper's head on raw features, both paths equal."""
    import keras

    from harness.backbones import get_backbone
    from harness.weights import SOURCE_FILE, SOURCE_META

    donor = get_backbone("MobileNetV1-0.25").build(32)
    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / (SOURCE_FILE if kind == "source" else "donor.weights.h5")
    donor.save_weights(str(path))
    (folder / SOURCE_META).write_text(json.dumps({"data": "toy"}))
    keras.backend.clear_session()
    weights = f"source:{folder}" if kind == "source" else str(path)
    out = _cached_vs_naive(toy, tmp_path, "feature_extractor", {"lrs": [1e-2, 1e-3]}, weights=weights)
    assert np.allclose(out[True]["scores"], out[False]["scores"], atol=1e-4)
    ctx = make_ctx(toy, tmp_path / "id", weights=weights)
    assert ctx.weights_id.startswith(f"{kind}:") and not ctx.random_init


@pytest.mark.slow
def test_cached_equals_naive_under_mixed_precision(toy, tmp_path):
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        out = _cached_vs_naive(toy, tmp_path, "feature_extractor", {"lrs": [1e-2]})
        ctx = make_ctx(toy, tmp_path / "p")
        assert ctx.base.compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.allclose(out[True]["scores"], out[False]["scores"], atol=1e-3)


def test_cache_entries_are_keyed_by_the_real_boundary_layer(toy, tmp_path):
    """MobileNetV1 split at conv_dw_13 (depth 1) and at conv_pw_13 (first_trainable) share no entry."""
    train, _, _ = split(make_ctx(toy, tmp_path / "x"))
    arrays, files = {}, {}
    for first in (None, "conv_pw_13"):
        ctx = make_ctx(toy, tmp_path / "shared", copies=1, first_trainable=first, seed=0)
        ctx.train_on(train)
        before = set((tmp_path / "shared" / "cache").rglob("*.npy"))
        arrays[first] = ctx.boundary(1)[0][0]
        files[first] = set((tmp_path / "shared" / "cache").rglob("*.npy")) - before
        assert ctx.cache.misses == 2 and ctx.cache.hits == 0, "an entry of the other boundary was reused"
    assert files[None] and files["conv_pw_13"] and not files[None] & files["conv_pw_13"]
    a, b = np.asarray(arrays[None]), np.asarray(arrays["conv_pw_13"])
    assert a.shape != b.shape or not np.allclose(a, b, rtol=1e-3, atol=0)       # different numbers


def test_cache_key_names_everything_that_determines_the_activations(toy, tmp_path):
    import keras

    ctx = make_ctx(toy, tmp_path)
    boundary = ctx.boundary_identity(1)
    assert boundary == {"first_trainable": "conv_dw_13", "crossing": ["conv_pw_12_relu"]}
    key = ctx._key(boundary, 1, np.arange(4))
    variants = [make_ctx(toy, tmp_path, rotation=30.0), make_ctx(toy, tmp_path, zoom=0.6),
                make_ctx(toy, tmp_path, seed=1)]
    assert all(v._key(v.boundary_identity(1), 1, np.arange(4)) != key for v in variants)
    assert ctx._key(boundary, 2, np.arange(4)) != key and ctx._key(boundary, 1, np.arange(5)) != key
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        assert ctx._key(boundary, 1, np.arange(4)) != key
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_feature_cache_is_reused_across_learners(toy, tmp_path):
    ctx = make_ctx(toy, tmp_path, copies=1)
    ctx.pooled()
    assert (ctx.cache.misses, ctx.cache.hits) == (2, 0)       # clean draw + 1 rotated copy
    again = make_ctx(toy, tmp_path, copies=1, base=ctx.base)   # same backbone / weights / data / pipeline
    again.pooled()
    assert (again.cache.misses, again.cache.hits) == (0, 2)


def test_random_init_base_gives_the_head_informative_inputs(tmp_path):
    """A random-init MobileNet's pooled features are ~1e-17; the trained part gets them standardised.

    The head's inputs have unit variance and a linear probe on them beats the majority rate
    on held-out toy patients; the raw features alone would be too small to train on.
    """
    from sklearn.linear_model import LogisticRegression

    ds = tiny_dataset(n_patients=12)
    ctx = make_ctx(ds, tmp_path, copies=0)
    train, test, _ = split(ctx, n_train=8)
    learner = make_learner("feature_extractor", ctx, settings(), {"lrs": [1e-2]})
    learner.prepare(train)
    raw = np.asarray(ctx.pooled()[0][0])
    assert raw.std() < 1e-6                                   # the problem: inference-mode random init
    learner.reset(1e-2)
    standardise = learner.model.get_layer("standardise_pooled_0")
    inputs = np.asarray(standardise(raw))
    alive = raw[train].std(axis=0) > 0                         # features that are not constant (dead ReLUs)
    assert alive.mean() > 0.5
    assert np.allclose(inputs[train][:, alive].std(axis=0), 1.0, atol=1e-3)
    probe = LogisticRegression(max_iter=3000).fit(inputs[train], ctx.y[train])
    assert probe.score(inputs[test], ctx.y[test]) >= majority_rate(ctx, test) + 0.1


def test_a_run_does_not_depend_on_the_runs_before_it(toy, tmp_path):
    """Same (fold, learning rate) twice, another run in between: identical curves and weights.

    The head's Dropout draws from a seed generator whose state `get_weights` leaves out;
    each run restores it with the weights and the optimizer state.
    """
    ctx = make_ctx(toy, tmp_path)
    learner = make_learner("feature_extractor", ctx, settings(epochs=3), {"lrs": [1e-2, 1e-3]})
    train, _, folds = split(ctx)
    learner.prepare(train)
    (tr, va), (tr2, va2) = folds
    first = learner.curve(tr, va, {"lr": 1e-2}, 3)
    weights = [w.copy() for w in learner.model.get_weights()]
    learner.curve(tr2, va2, {"lr": 1e-3}, 3)
    second = learner.curve(tr, va, {"lr": 1e-2}, 3)
    assert first == second
    assert all(np.array_equal(a, b) for a, b in zip(weights, learner.model.get_weights()))


def test_selection_follows_the_configured_criterion(toy, tmp_path):
    """select_on: val_accuracy picks the highest mean validation accuracy (the paper), val_loss the lowest loss."""
    ctx = make_ctx(toy, tmp_path)
    train, _, folds = split(ctx)
    for criterion in ("val_accuracy", "val_loss"):
        learner = make_learner("feature_extractor", ctx, settings(epochs=3, select_on=criterion), {"lrs": [1e-1, 1e-4]})
        learner.prepare(train)
        sel = cross_validate(learner, folds)
        curves = np.array(list(sel["mean_curves"].values()))
        best = curves.max() if criterion == "val_accuracy" else curves.min()
        assert sel["score"] == pytest.approx(best) and sel["criterion"] == criterion


def test_learning_rate_decays_per_step_and_restarts_for_each_run(toy, tmp_path):
    learner = make_learner("feature_extractor", make_ctx(toy, tmp_path), settings(epochs=1, decay=0.1, oversample=None),
                           {"lrs": [0.2, 0.02]})
    train, _, _ = split(learner.ctx)
    learner.prepare(train)
    steps = -(-len(train) // 16)
    for lr in (0.2, 0.02):
        learner.fit(train, {"lr": lr}, 1)
        optimizer = learner.model.optimizer
        assert int(optimizer.iterations) == steps          # reset zeroed the step counter
        assert float(optimizer.learning_rate) == pytest.approx(lr / (1 + 0.1 * steps), rel=1e-6)


def test_keras2_decay_schedule_matches_the_keras2_formula_and_follows_its_variable():
    import keras

    from harness.engine import keras2_decay

    lr = keras.Variable(0.01, dtype="float32", trainable=False)
    schedule = keras2_decay(lr, 1e-3)
    reference = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=1e-3)
    for step in (0, 1, 7, 1000):
        expected = 0.01 / (1 + 1e-3 * step)
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-6)
        assert float(schedule(step)) == pytest.approx(float(reference(step)), rel=1e-6)
    lr.assign(0.5)                     # a new candidate: same schedule object, new rate
    assert float(schedule(0)) == pytest.approx(0.5)


def test_rotated_copies_are_cached_for_training_rows_only(toy, tmp_path):
    ctx = make_ctx(toy, tmp_path, copies=2)
    train, test, _ = split(ctx)
    ctx.train_on(train)
    per_draw = ctx.pooled()
    assert not np.isnan(per_draw[0][0]).any()                # clean draw: every row (val and test read it)
    for c in (1, 2):
        assert not np.isnan(per_draw[c][0][train]).any() and np.isnan(per_draw[c][0][test]).all()
    assert ctx.gather(per_draw, test, np.zeros(len(test), int))[0].shape == (len(test), ctx.feature_dim)
    with pytest.raises(ValueError, match="no rotated copy"):
        ctx.gather(per_draw, test[:2], np.ones(2, int))
    with pytest.raises(ValueError, match="bank"):
        ctx.gather(per_draw, train[:2], np.full(2, 3))       # a fresh draw is not in the cache
    full = make_ctx(toy, tmp_path / "other", copies=2, base=ctx.base)   # undeclared: rotated copies of every row
    assert np.allclose(full.pooled()[1][0][train], per_draw[1][0][train], atol=1e-6)


class FeaturesOnly:
    """The parts of a TrialContext a hybrid strategy reads, over given pooled features."""

    cached, seed, random_init = True, 0, False

    def __init__(self, x, y, patients):
        import pandas as pd
        from types import SimpleNamespace

        from harness.engine import AugmentationSpec

        self.x, self.y = x, y
        self.table = pd.DataFrame({"patient": patients, "frame": "ED", "slice_index": np.arange(len(y))})
        self.bank = SimpleNamespace(augmentation=AugmentationSpec(rotation=0.0, copies=0))

    def train_on(self, rows):
        pass

    def pooled(self):
        return [[self.x]]

    def gather(self, per_draw, idx, draws):
        return [per_draw[0][0][np.asarray(idx)]]

    def standardiser(self, where, rows=None):
        return None


def _overlapping_blobs(seed: int = 0):
    """12 patients x 20 images, classes 3:14:3 per patient, overlapping 2-D blobs plus 3 noise features."""
    rng = np.random.default_rng(seed)
    y = np.tile(np.r_[np.zeros(3), np.ones(14), np.full(3, 2)].astype(int), 12)
    patients = np.repeat([f"p{i:02d}" for i in range(12)], 20)
    centres, spread = np.array([[0, 0], [1.2, 0.3], [0.3, 1.5]]), np.array([0.5, 1.0, 0.7])
    x = np.c_[centres[y] + rng.normal(size=(len(y), 2)) * spread[y][:, None], rng.normal(size=(len(y), 3))]
    return x.astype("float32"), y, patients


@pytest.mark.parametrize("select_on", ["val_accuracy", "val_loss"])
def test_svm_per_class_auc_ranks_by_decision_values_as_scikit_learn(select_on):
    """hybrid_svm: per-class AUC of each class's decision value, as scikit-learn's roc_auc_score.

    A softmax of the decision values (the harness before) ranks samples differently across
    rows, so its per-class AUC differs on this case. C is selected on a meaningful criterion:
    validation accuracy, or the multiclass hinge loss of the decision values.
    """
    from sklearn.metrics import hinge_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from harness.protocol import make_folds, patient_indices

    x, y, patients = _overlapping_blobs()
    ctx = FeaturesOnly(x, y, patients)
    train_p, test_p = sorted(set(patients))[:8], sorted(set(patients))[8:]
    train, test = patient_indices(ctx.table, train_p), patient_indices(ctx.table, test_p)
    learner = make_learner("hybrid_svm", ctx, settings(select_on=select_on, oversample=None),
                           {"C": [0.1, 1.0, 10.0], "kernel": ["rbf"]})
    out = run_protocol(learner, ctx.table, train, test, make_folds(ctx.table, train_p, 2, 0))
    m, chosen = out["metrics"], out["selection"]["candidate"]
    assert m["score_kind"].startswith("SVM one-vs-rest decision values")
    svc = make_pipeline(StandardScaler(), SVC(random_state=0, **chosen)).fit(x[train], y[train])
    decision = svc.decision_function(x[test])
    softmax = np.exp(decision) / np.exp(decision).sum(axis=1, keepdims=True)
    gaps = []
    for k, name in enumerate(("OAP", "IN", "OBS")):
        expected = roc_auc_score(y[test] == k, decision[:, k])
        assert m[f"auc_{name}"] == pytest.approx(expected, abs=1e-12)
        gaps.append(abs(roc_auc_score(y[test] == k, softmax[:, k]) - expected))
    assert max(gaps) > 0.01, "the case must tell decision values from their softmax"
    assert m["accuracy"] == pytest.approx(np.mean(svc.predict(x[test]) == y[test]))
    if select_on == "val_loss":                            # the selection score is the hinge loss
        (tr, va) = make_folds(ctx.table, train_p, 2, 0)[0]
        fold_svc = make_pipeline(StandardScaler(), SVC(random_state=0, **chosen)).fit(x[tr], y[tr])
        assert learner.curve(tr, va, chosen)[0] == pytest.approx(
            hinge_loss(y[va], fold_svc.decision_function(x[va]), labels=[0, 1, 2]))


@pytest.mark.slow
def test_standardised_random_features_read_more_of_the_image_than_batchnorm_calibrated_ones(tmp_path, capsys):
    """Why random-init bases standardise their features instead of calibrating BatchNorm.

    Calibration (every BatchNorm's statistics set from the training images, one batch in
    training mode with momentum 0) gives unit-scale features, but a linear probe reads less
    of the toy task from them than from the standardised raw features.
    """
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from harness.weights import batchnorm_layers

    ds = tiny_dataset(n_patients=12)
    scores = {}
    for backbone in ("MobileNetV1-0.25", "MobileNetV2-0.35"):
        ctx = make_ctx(ds, tmp_path / backbone, backbone=backbone, copies=0)
        train, test, _ = split(ctx, n_train=8)
        images = ctx.bank.batch(np.arange(len(ctx.y)), 0)
        raw = np.asarray(ctx.base.predict_on_batch(images))
        for layer in batchnorm_layers(ctx.base):
            layer.momentum = 0.0
        ctx.base(images[train], training=True)             # moving statistics := the training images' own
        calibrated = np.asarray(ctx.base.predict_on_batch(images))
        for name, feats in (("standardised", raw), ("calibrated", calibrated)):
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(feats[train], ctx.y[train])
            scores[backbone, name] = probe.score(feats[test], ctx.y[test])
        keras.backend.clear_session()
        assert scores[backbone, "standardised"] > scores[backbone, "calibrated"], scores
        assert scores[backbone, "standardised"] >= majority_rate(ctx, test) + 0.1
    with capsys.disabled():
        print("\nlinear-probe test accuracy:", {f"{b} {n}": round(v, 3) for (b, n), v in scores.items()})


@pytest.mark.parametrize("strategy,options", [
    ("feature_extractor", {"lrs": [1e-2, 1e-3, 3e-2]}),
    pytest.param("partial_finetune", {"lrs": [1e-2, 1e-3], "head_lrs": [1e-2], "depth": 1}, marks=pytest.mark.slow),
    pytest.param("full_finetune", {"lrs": [1e-2, 1e-3]}, marks=pytest.mark.slow),
])
def test_learning_rates_trained_together_match_runs_one_after_another(toy, tmp_path, strategy, options, monkeypatch):
    """`RunGroup`: one step updates every learning rate's copy, each with its own rate and decay.

    Each copy's validation curve equals the curve of the same run trained alone: the
    grouped engine changes how steps run, not what they compute. Loss values are
    compared in select_on: val_loss (accuracy on a few rows would hide small differences).
    """
    from harness.strategies.network import KerasStrategy

    def cv(grouped: bool):
        monkeypatch.setattr(KerasStrategy, "group_runs", grouped)
        ctx = make_ctx(toy, tmp_path / str(grouped))
        learner = make_learner(strategy, ctx, settings(epochs=3, select_on="val_loss"), options)
        train, _, folds = split(ctx)
        if strategy == "partial_finetune":
            learner.head_start.prepare(train)
            learner.use_warm_start({"candidate": {"lr": 1e-2}, "epochs": 2})
        learner.prepare(train)
        out = [learner.curves(tr, va, learner.candidates(), 3) for tr, va in folds]
        return np.array(out), learner.runs_per_step

    alone, runs_alone = cv(False)
    together, runs_together = cv(True)
    assert (runs_alone, runs_together) == (1, len(options["lrs"]))
    assert alone.shape == (2, len(options["lrs"]), 3)
    assert np.ptp(alone[:, :, -1], axis=1).min() > 1e-4     # the learning rates do lead to different curves
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("strategy", ["feature_extractor", pytest.param("full_finetune", marks=pytest.mark.slow)])
def test_many_steps_per_dispatch_give_the_same_runs_as_one_step_per_call(toy, tmp_path, strategy):
    """`steps_per_execution` k > 1 (Keras's compiled multi-step function) changes the dispatch, not the updates."""
    def cv(steps: int):
        ctx = make_ctx(toy, tmp_path / str(steps))
        ctx.steps_per_execution = steps
        learner = make_learner(strategy, ctx, settings(epochs=3, select_on="val_loss"), {"lrs": [1e-2, 1e-3]})
        train, _, folds = split(ctx)
        learner.prepare(train)
        curves = [learner.curves(tr, va, learner.candidates(), 3) for tr, va in folds]
        learner.fit(train, {"lr": 1e-2}, 2)
        return np.array(curves), learner.predict_scores(folds[0][1])

    curves_1, scores_1 = cv(1)
    curves_k, scores_k = cv(5)
    np.testing.assert_allclose(curves_k, curves_1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores_k, scores_1, rtol=1e-4, atol=1e-6)
