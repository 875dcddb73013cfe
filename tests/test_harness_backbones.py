"""Backbone registry, published block boundaries, model splitting and the imagenet cache path."""
from __future__ import annotations

import numpy as np
import pytest

from harness.backbones import CBR_BACKBONES, HO_KIM_BACKBONES, REGISTRY, get_backbone, split_at


def test_registry_has_the_nine_backbones_and_three_cbr_baselines():
    assert len(HO_KIM_BACKBONES) == 9 and len(CBR_BACKBONES) == 3
    assert get_backbone("mobilenetv1-0.25") is REGISTRY["MobileNetV1-0.25"]
    assert get_backbone("cbr_tiny").name == "CBR-Tiny"
    assert {REGISTRY[n].input_size for n in ("InceptionV3", "InceptionResNetV2", "Xception")} == {299}
    assert REGISTRY["VGG16"].input_size == 224


def test_any_keras_application_is_accepted_and_unknown_names_are_refused():
    spec = get_backbone("EfficientNetB0")
    assert spec.keras_name == "EfficientNetB0" and spec.preprocess_mode == "efficientnet"
    with pytest.raises(ValueError, match="unknown backbone 'ResNet5'"):
        get_backbone("ResNet5")
    with pytest.raises(ValueError, match="unknown backbone"):
        get_backbone("preprocess_input")


def test_preprocessing_is_backbone_specific_and_does_not_touch_input():
    x = np.full((1, 4, 4, 3), 255.0, dtype="float32")
    assert np.allclose(REGISTRY["MobileNetV1-0.25"].preprocess(x), 1.0)       # 'tf' mode: [-1, 1]
    assert np.allclose(REGISTRY["CBR-Tiny"].preprocess(x), 1.0)               # from scratch: [0, 1]
    vgg = REGISTRY["VGG16"].preprocess(x)                                      # 'caffe': BGR minus mean
    assert vgg[0, 0, 0, 0] == pytest.approx(255.0 - 103.939, abs=1e-3)
    assert np.all(x == 255.0)


def test_mobilenet_last_block_boundary_and_split_reproduce_the_model():
    spec = REGISTRY["MobileNetV1-0.25"]
    model = spec.build(32)
    i = spec.boundary_index(model, 1)
    assert model.layers[i].name == "conv_dw_13"
    assert model.layers[spec.boundary_index(model, 2)].name == "conv_pad_12"
    frozen, tail = split_at(model, i)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    whole = np.asarray(model.predict_on_batch(x))
    assert np.allclose(np.asarray(tail.predict_on_batch(frozen.predict_on_batch(x))), whole, atol=1e-5)
    assert {l.name for l in tail.layers if l.weights} == {l.name for l in model.layers[i:] if l.weights}


def test_cbr_tiny_architecture():
    model = REGISTRY["CBR-Tiny"].build(32)
    convs = [l for l in model.layers if l.name.endswith("_conv")]
    assert [c.filters for c in convs] == [64, 128, 256, 512] and convs[0].kernel_size == (5, 5)
    assert model.output_shape == (None, 512)
    assert model.layers[REGISTRY["CBR-Tiny"].boundary_index(model, 1)].name == "cbr4_conv"


def test_imagenet_weights_load_from_a_preseeded_keras_cache(tmp_path, monkeypatch):
    """weights='imagenet' goes through keras.applications and its cache file; no network needed."""
    import keras
    from keras.src.backend import config as keras_config

    from harness.weights import WeightsSpec, build_base

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    spec = REGISTRY["MobileNetV1-0.25"]
    donor = spec.build(128, weights=None)
    (tmp_path / "models").mkdir()
    # the exact name keras.applications.MobileNet(alpha=0.25, 128 px, include_top=False) asks for
    donor.save(str(tmp_path / "models" / "mobilenet_2_5_128_tf_no_top.h5"))
    model = build_base(spec, WeightsSpec.parse("imagenet"), 128)
    for a, b in zip(donor.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)
    keras.backend.clear_session()


# First trainable layer at depth 1, 2, 3 in the authors' code (../shared/protocol/ho-kim-2021-facts.md):
# "after:X" = the layer after X; Xception's 12th/11th/10th Add are add_11/add_10/add_9 in Keras 3.
FIRST_TRAINABLE = {
    "MobileNetV1-0.25": ("conv_dw_13", "conv_pad_12", "conv_dw_11"),
    "MobileNetV2-0.35": ("block_16_expand", "block_15_expand", "block_14_expand"),
    "VGG16": ("block5_conv1", "block4_conv1", "block3_conv1"),
    "InceptionV3": ("mixed9", "mixed8", "mixed7"),
    "ResNet50V2": ("conv5_block3_preact_bn", "conv5_block2_preact_bn", "conv5_block1_preact_bn"),
    "InceptionResNetV2": ("block8_9_ac", "block8_8_ac", "block8_7_ac"),
    "DenseNet121": ("conv5_block1_0_bn", "conv4_block1_0_bn", "conv3_block1_0_bn"),
    "NASNetMobile": ("after:normal_concat_11", "after:normal_concat_10", "after:normal_concat_9"),
    "Xception": ("add_11", "add_10", "add_9"),
    "CBR-LargeT": ("cbr5_conv", "cbr4_conv", "cbr3_conv"),
    "CBR-Small": ("cbr4_conv", "cbr3_conv", "cbr2_conv"),
    "CBR-Tiny": ("cbr4_conv", "cbr3_conv", "cbr2_conv"),
}
SMALL_INPUT = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71, "NASNetMobile": 64}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FIRST_TRAINABLE))
def test_partial_finetune_trains_exactly_the_last_blocks_at_depth_1_2_3(name, tmp_path):
    """Built with weights=None: at each depth the strategy's plan freezes every weighted layer
    before the published boundary and trains every one from it on; depth 1 splits into two
    models that reproduce the whole."""
    import keras

    from harness.strategies import default_options, make_learner

    from harness_toy import make_ctx, settings, tiny_dataset

    spec = REGISTRY[name]
    base = spec.build(SMALL_INPUT.get(name, 32))
    ctx = make_ctx(tiny_dataset(n_patients=2, slices=3), tmp_path, backbone=name, base=base)
    for depth, expected in zip((1, 2, 3), FIRST_TRAINABLE[name]):
        learner = make_learner("partial_finetune", ctx, settings(), default_options("partial_finetune", depth=depth))
        learner.apply_plan()
        i = spec.boundary_index(base, depth)
        if expected.startswith("after:"):
            assert base.layers[i - 1].name == expected.split(":", 1)[1], (name, depth)
        else:
            assert base.layers[i].name == expected, (name, depth)
        weighted = [l for l in base.layers if l.weights]
        trainable = {l.name for l in weighted if l.trainable}
        assert trainable == {l.name for l in base.layers[i:] if l.weights}, (name, depth)
        assert 0 < len(trainable) < len(weighted)
    frozen, tail = ctx.split(1)
    x = np.random.default_rng(0).uniform(-1, 1, (1,) + base.input_shape[1:]).astype("float32")
    whole = np.asarray(base.predict_on_batch(x))
    assert np.allclose(np.asarray(tail.predict_on_batch(frozen.predict_on_batch(x))), whole, atol=1e-4), name
    keras.backend.clear_session()
