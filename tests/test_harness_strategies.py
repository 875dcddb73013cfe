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
