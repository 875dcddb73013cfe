"""The engine's inputs: crop before augmentation, the authors' zoom after it, bank and fresh draws."""
from __future__ import annotations

import numpy as np
import pytest

from harness.backbones import get_backbone
from harness.data import Preprocessing
from harness.data.preprocess import central_crop, resize
from harness.engine import AugmentationSpec, ImageBank, rotate_and_zoom

from harness_toy import SIZE, tiny_dataset


@pytest.fixture(scope="module")
def toy():
    return tiny_dataset()


def _banded(size: int = 60) -> np.ndarray:
    """A smooth ramp with a bright band in the outer 20 % of every side (what a 40 % crop removes)."""
    img = np.tile(np.linspace(50, 150, size, dtype=np.float32), (size, 1))
    band = int(size * 0.2)
    img[:band], img[-band:], img[:, :band], img[:, -band:] = 1000, 1000, 1000, 1000
    return img


def test_zoom_keeps_the_central_part_like_the_authors_crop():
    """zoom 0.6 without rotation = the central 60 % of each axis, resampled to the full size.

    (The outermost output pixels interpolate across the crop's edge, so they are left out.)
    """
    img = _banded()
    zoomed = rotate_and_zoom(img, 0.0, 0.6)[1:-1, 1:-1]
    cropped = resize(central_crop(img[None], 0.4), img.shape[0])[0][1:-1, 1:-1]
    assert zoomed.max() < 1000                                        # the band is gone
    assert np.allclose(zoomed, cropped, atol=1e-3)


def test_pipeline_order_is_crop_window_resize_then_rotation_and_zoom():
    """preprocessing (crop before any augmentation, percentile window, resize), then rotation + zoom."""
    from harness.engine.inputs import rotation_angle

    spec = get_backbone("CBR-Tiny")                                   # 'unit' preprocessing: pixels / 255
    ds = tiny_dataset(n_patients=1, slices=3)
    bank = ImageBank(ds, spec, 32, {"crop_fraction": 0.4}, AugmentationSpec(rotation=45.0, zoom=0.8, copies=1))
    prep = Preprocessing(crop_fraction=0.4, size=32)
    for i in range(len(ds.images)):
        grey = prep.apply(ds.images[i:i + 1])[0, ..., 0]
        expected = np.clip(rotate_and_zoom(grey, rotation_angle(0, 1, i, 45.0), 0.8), 0, 255) / 255
        assert np.allclose(bank.batch([i], 1)[0, ..., 0], expected, atol=1e-6)


def test_the_authors_zoom_crops_after_the_rotation():
    """zoom after rotating the full field of view (their ImageDataGenerator): rotated corners
    bring pixels of the outer band into the central 60 %; the un-rotated image has none."""
    spec = get_backbone("CBR-Tiny")
    ds = tiny_dataset(n_patients=1, slices=3, size=40)
    ds.images[:] = _banded(40)
    bank = ImageBank(ds, spec, 40, {"crop_fraction": 0.0, "percentiles": None},
                     AugmentationSpec(rotation=45.0, zoom=0.6, copies=1), seed=0)
    angles = [abs(np.random.default_rng([0, 1, i]).uniform(-45, 45)) for i in range(len(ds.images))]
    i = int(np.argmax([min(a, 90 - a) for a in angles]))              # the row turned closest to 45°
    assert min(angles[i], 90 - angles[i]) > 20
    inner = (slice(2, -2), slice(2, -2), 0)
    assert (bank.batch([i], 1)[0][inner] > 0.5).any()                # band pixels (ramp <= 0.1 after the window)
    assert not (bank.batch([i], 0)[0][inner] > 0.5).any()


def test_image_bank_gives_each_row_the_same_pixels_in_any_batch(toy):
    spec = get_backbone("MobileNetV1-0.25")
    aug = AugmentationSpec(rotation=30.0, zoom=0.8, copies=2)
    lazy = ImageBank(toy, spec, SIZE, {}, aug, seed=3)
    idx, draws = np.array([5, 1, 9, 1, 30]), np.array([0, 2, 1, 1, 2])
    first = lazy.batch(idx, draws)
    assert lazy._memo[1][1].sum() == 2                                # rows 9 and 1 of draw 1, nothing else
    whole = ImageBank(toy, spec, SIZE, {}, aug, seed=3)
    everything = [whole.batch(np.arange(len(toy.images)), d) for d in range(3)]
    assert np.array_equal(first, np.stack([everything[d][i] for i, d in zip(idx, draws)]))
    on_the_fly = ImageBank(toy, spec, SIZE, {}, aug, seed=3, memory_mb=0)
    assert not on_the_fly.keep_bank and np.array_equal(on_the_fly.batch(idx, draws), first)
    assert not np.array_equal(everything[1], everything[2])           # two bank copies, two angles


def test_bank_draws_cycle_and_fresh_draws_never_repeat():
    aug = AugmentationSpec(rotation=45.0, zoom=0.6, copies=3)
    bank = np.stack([aug.draws(4, e, "bank") for e in range(6)])
    assert set(bank.ravel()) == {1, 2, 3} and np.array_equal(bank[0], bank[3])     # cycled over epochs
    fresh = np.stack([aug.draws(4, e, "fresh") for e in range(6)])
    assert len(set(fresh.ravel())) == fresh.size and fresh.min() > aug.copies      # a new angle every time
    assert not AugmentationSpec(rotation=0.0).draws(4, 2, "fresh").any()           # rotation 0: no augmentation
    with pytest.raises(ValueError, match="zoom"):
        AugmentationSpec(zoom=1.5)


def test_full_finetuning_sees_a_new_angle_every_epoch(toy, tmp_path):
    """Each epoch of a fresh-augmentation strategy reads new pixels for the same row; bank strategies cycle."""
    from harness_toy import make_ctx, settings
    from harness.strategies import make_learner

    ctx = make_ctx(toy, tmp_path, copies=2)
    seen: dict = {}
    learner = make_learner("full_finetune", ctx, settings(epochs=3, oversample=None), {"lrs": [1e-3]})
    inputs = learner.inputs

    def spy(idx, draws):
        for row, draw in zip(np.asarray(idx).tolist(), np.asarray(draws).tolist()):
            seen.setdefault(row, []).append(draw)
        return inputs(idx, draws)

    learner.inputs = spy
    learner.fit(np.arange(12), {"lr": 1e-3}, 3)
    assert all(len(set(d)) == 3 and min(d) > ctx.aug_copies for d in seen.values())
    assert learner.augmentation_mode == "fresh"


@pytest.mark.parametrize("backbone,zoom", [("MobileNetV1-0.25", 0.6), ("ResNet50V2", 0.8), ("CBR-Tiny", 1.0)])
def test_device_augmentation_matches_the_cpu_reference(backbone, zoom):
    """The full fine-tune's first layer (keras.ops, on the device) gives the bank's pixels (SciPy, CPU).

    Same rows, same draws (angles from (seed, draw, row)), same zoom, same backbone scaling;
    the two bilinear resamplers differ only by float rounding.
    """
    from harness_toy import tiny_dataset

    from harness.backbones import get_backbone
    from harness.engine import AugmentationSpec, ImageBank
    from harness.engine.augment import device_augment_layer

    spec = get_backbone(backbone)
    bank = ImageBank(tiny_dataset(n_patients=2), spec, 32, {"crop_fraction": 0.0},
                     AugmentationSpec(rotation=45.0, zoom=zoom, copies=2), seed=3)
    idx = np.arange(12)
    draws = np.array([0, 1, 2, 7, 50, 3] * 2)            # draw 0 (no rotation), bank draws and fresh draws
    cpu = bank.batch(idx, draws)
    layer = device_augment_layer(spec.preprocess_mode, zoom, True)
    device = np.asarray(layer(bank.grey(idx), bank.angles(idx, draws)))
    assert device.shape == cpu.shape == (12, 32, 32, 3)
    span = float(cpu.max() - cpu.min())
    assert span > 0
    assert np.abs(device - cpu).max() <= 1e-4 * span
    assert np.abs(bank.angles(idx, draws)[draws > 0]).min() > 0     # rotated draws do rotate
