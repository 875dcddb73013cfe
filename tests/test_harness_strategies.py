"""The four strategies train end to end on tiny data; frozen parts stay frozen; cache == naive."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.data import CardiacDataset
from harness.backbones import get_backbone
from harness.features import FeatureCache
from harness.protocol import make_folds, patient_indices, run_protocol
from harness.strategies import STRATEGIES, ImageBank, TrainSettings, TrialContext, make_learner
from harness.weights import WeightsSpec, build_base

SIZE = 32


def tiny_dataset(n_patients: int = 6, slices: int = 6, size: int = 40, seed: int = 0) -> CardiacDataset:
    """Learnable toy stacks: a bright disc whose radius grows from apex (OAP) to base, none at OBS."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - size / 2
    images, rows = [], []
    for p in range(n_patients):
        for frame in ("ED", "ES"):
            for s in range(slices):
                label = "OAP" if s == 0 else "OBS" if s == slices - 1 else "IN"
                radius = {"OAP": 2.0, "IN": 5.0 + s, "OBS": 0.0}[label]
                img = rng.normal(50, 5, (size, size)) + 150 * (np.hypot(xx, yy) < radius)
                images.append(img)
                rows.append({"patient": f"p{p:02d}", "frame": frame, "slice_index": s, "slice_position": 8.0 * s,
                             "label": label, "source": "synthetic", "domain": "toy", "pixel_spacing": 1.0})
    return CardiacDataset(np.stack(images).astype("float32"), pd.DataFrame(rows), name="toy")


def make_ctx(ds, tmp_path, backbone="MobileNetV1-0.25", cached=True, copies=1, seed=0) -> TrialContext:
    spec = get_backbone(backbone)
    base = build_base(spec, WeightsSpec.parse("none"), SIZE)
    bank = ImageBank(ds, spec, SIZE, {"crop_fraction": 0.2}, rotation=20.0, copies=copies, seed=seed)
    return TrialContext(ds, spec, base, bank, FeatureCache(tmp_path / "cache", enabled=cached), "none",
                        seed=seed, cached=cached)


SETTINGS = TrainSettings(epochs=2, batch_size=16, oversample={"OAP": 2, "IN": 1, "OBS": 2})
OPTIONS = {"lrs": [1e-2], "head_lrs": [1e-2], "depth": 1, "C": [1.0], "n_estimators": [20]}


def _split(ctx):
    patients = sorted(ctx.table["patient"].unique())
    train, test = patients[:4], patients[4:]
    return patient_indices(ctx.table, train), patient_indices(ctx.table, test), make_folds(ctx.table, train, 2, 0)


@pytest.fixture(scope="module")
def toy():
    return tiny_dataset()


@pytest.mark.parametrize("strategy", [pytest.param(s, marks=pytest.mark.slow) if s == "full_finetune" else s
                                      for s in STRATEGIES])
def test_every_strategy_trains_end_to_end(strategy, toy, tmp_path):
    ctx = make_ctx(toy, tmp_path)
    opts = {"svm": {"C": [1.0, 2.0]}, "rf": {"n_estimators": [20]}}.get(strategy.split("_")[-1], OPTIONS)
    learner = make_learner(strategy, ctx, SETTINGS, opts)
    train, test, folds = _split(ctx)
    out = run_protocol(learner, ctx.table, train, test, folds)
    m = out["metrics"]
    assert m["n_test"] == len(test) and 0.0 <= m["accuracy"] <= 1.0
    assert np.allclose(out["proba"].sum(axis=1), 1.0, atol=1e-5)
    assert m["soft_accuracy"] >= m["accuracy"]
    assert 1 <= out["selection"]["epochs"] <= SETTINGS.epochs
    params = learner.params()
    assert params["total_params"] >= params["trainable_params"] >= 0


def test_feature_extractor_leaves_the_base_bit_identical(toy, tmp_path):
    ctx = make_ctx(toy, tmp_path, cached=False)   # naive: the base is inside the trained model
    before = [w.copy() for w in ctx.base.get_weights()]
    learner = make_learner("feature_extractor", ctx, SETTINGS, {"lrs": [0.1]})
    train, _, _ = _split(ctx)
    learner.fit(train, {"lr": 0.1}, 2)
    after = ctx.base.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))   # incl. BatchNorm moving stats
    head_before = learner.init_weights[0]
    assert not np.array_equal(head_before, learner.model.get_layer("head_dense").get_weights()[0])


@pytest.mark.parametrize("cached", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_partial_finetune_changes_only_the_last_block_and_head(toy, tmp_path, cached):
    ctx = make_ctx(toy, tmp_path, cached=cached)
    base = ctx.base
    before = {l.name: [w.copy() for w in l.get_weights()] for l in base.layers}
    learner = make_learner("partial_finetune", ctx, SETTINGS, {"lrs": [0.05], "head_lrs": [0.05], "depth": 1})
    train, test, folds = _split(ctx)
    run_protocol(learner, ctx.table, train, test, folds)
    boundary = ctx.backbone.boundary_index(base, 1)
    tail_names = {l.name for l in base.layers[boundary:]}
    changed = {l.name for l in base.layers
               if any(not np.array_equal(a, b) for a, b in zip(before[l.name], l.get_weights()))}
    assert changed, "partial fine-tuning trained nothing in the base"
    assert changed <= tail_names, f"layers outside the last block changed: {sorted(changed - tail_names)}"
    assert "conv_dw_13" in changed or "conv_pw_13" in changed


def test_cached_and_naive_paths_give_the_same_predictions(toy, tmp_path):
    results = {}
    for cached in (False, True):
        ctx = make_ctx(toy, tmp_path, cached=cached, copies=2)
        learner = make_learner("feature_extractor", ctx, SETTINGS, {"lrs": [1e-2, 1e-3]})
        train, test, folds = _split(ctx)
        results[cached] = run_protocol(learner, ctx.table, train, test, folds)
    assert results[True]["selection"]["candidate"] == results[False]["selection"]["candidate"]
    assert np.allclose(results[True]["proba"], results[False]["proba"], atol=1e-4)


def test_feature_cache_is_reused_across_learners(toy, tmp_path):
    ctx = make_ctx(toy, tmp_path, copies=1)
    ctx.pooled()
    assert (ctx.cache.misses, ctx.cache.hits) == (2, 0)       # clean copy + 1 rotated copy
    again = make_ctx(toy, tmp_path, copies=1)
    again.weights_id = ctx.weights_id
    # same backbone / weights / data / preprocessing: served from disk, no forward pass
    again.base = ctx.base
    again.pooled()
    assert (again.cache.misses, again.cache.hits) == (0, 2)


def test_keras2_decay_schedule_matches_the_keras2_formula_and_follows_its_variable():
    import keras

    from harness.strategies import keras2_decay

    lr = keras.Variable(0.01, dtype="float32", trainable=False)
    schedule = keras2_decay(lr, 1e-3)
    reference = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=1e-3)
    for step in (0, 1, 7, 1000):
        expected = 0.01 / (1 + 1e-3 * step)
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-6)
        assert float(schedule(step)) == pytest.approx(float(reference(step)), rel=1e-6)
    lr.assign(0.5)                     # a new candidate: same schedule object, new rate
    assert float(schedule(0)) == pytest.approx(0.5)


def test_learning_rate_decays_per_step_and_restarts_for_each_run(toy, tmp_path):
    settings = TrainSettings(epochs=1, batch_size=16, decay=0.1, oversample=None)
    learner = make_learner("feature_extractor", make_ctx(toy, tmp_path), settings, {"lrs": [0.2, 0.02]})
    train, _, _ = _split(learner.ctx)
    steps = -(-len(train) // 16)
    for lr in (0.2, 0.02):
        learner.fit(train, {"lr": lr}, 1)
        optimizer = learner.model.optimizer
        assert int(optimizer.iterations) == steps          # reset zeroed the step counter
        assert float(optimizer.learning_rate) == pytest.approx(lr / (1 + 0.1 * steps), rel=1e-6)


def test_image_bank_prepares_each_row_once_and_identically_in_any_batch(toy):
    spec = get_backbone("MobileNetV1-0.25")
    lazy = ImageBank(toy, spec, SIZE, {"crop_fraction": 0.2}, rotation=30.0, copies=2, seed=3)
    idx = np.array([5, 1, 9, 1, 30])
    first = lazy.batch(idx, np.array([0, 2, 1, 1, 2]))
    images, ready = lazy._memo[1]
    assert ready.sum() == 2                                   # rows 9 and 1 of copy 1, nothing else
    whole = ImageBank(toy, spec, SIZE, {"crop_fraction": 0.2}, rotation=30.0, copies=2, seed=3)
    everything = [whole.batch(np.arange(len(toy.images)), c) for c in range(3)]
    expected = np.stack([everything[c][i] for i, c in zip(idx, [0, 2, 1, 1, 2])])
    assert np.array_equal(first, expected)                   # same pixels whatever the batch
    on_the_fly = ImageBank(toy, spec, SIZE, {"crop_fraction": 0.2}, rotation=30.0, copies=2, seed=3, memory_mb=0)
    assert not on_the_fly.in_memory and np.array_equal(on_the_fly.batch(idx, np.array([0, 2, 1, 1, 2])), expected)


def test_rotated_copies_are_cached_for_training_rows_only(toy, tmp_path):
    ctx = make_ctx(toy, tmp_path, copies=2)
    train, test, _ = _split(ctx)
    ctx.train_on(train)
    per_copy = ctx.pooled()
    assert not np.isnan(per_copy[0][0]).any()                # clean copy: every row (val and test read it)
    for c in (1, 2):
        assert not np.isnan(per_copy[c][0][train]).any() and np.isnan(per_copy[c][0][test]).all()
    assert ctx.gather(per_copy, test, np.zeros(len(test), int))[0].shape == (len(test), ctx.feature_dim)
    with pytest.raises(ValueError, match="no rotated copy"):
        ctx.gather(per_copy, test[:2], np.ones(2, int))
    full = make_ctx(toy, tmp_path / "other", copies=2)       # undeclared: rotated copies of every row
    full.base = ctx.base
    assert np.allclose(full.pooled()[1][0][train], per_copy[1][0][train], atol=1e-6)
