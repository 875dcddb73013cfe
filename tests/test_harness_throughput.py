"""Throughput per phase: counted images, the share of a published reference, and no invented reference."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from harness.engine.throughput import (find_reference, markdown_table, phase_entry, reference_table,
                                       throughput)

ROOT = Path(__file__).resolve().parents[1]
H100 = "gpu: NVIDIA H100 80GB HBM3"       # what JAX/TF/torch call an H100 SXM


def test_h100_sxm_resnet_training_is_lambdas_published_figure():
    ref = find_reference(H100, "ResNet50", "fine_tuning", "mixed_float16", 224)
    assert ref.images_per_s == 2790 and ref.basis == "published" and "Lambda" in ref.source
    proxy = find_reference(H100, "ResNet50V2", "fine_tuning", "mixed_bfloat16", 224)
    assert proxy.images_per_s == 2790 and proxy.basis == "proxy"


def test_other_gpus_get_their_own_rows():
    assert find_reference("gpu: NVIDIA H100 PCIe", "ResNet50", "fine_tuning", "mixed_float16", 224).images_per_s == 1860
    assert find_reference("gpu: NVIDIA A100-SXM4-80GB", "ResNet50", "fine_tuning", "mixed_float16",
                          224).images_per_s == 2470
    assert find_reference("gpu: NVIDIA A100-SXM4-80GB", "ResNet50", "fine_tuning", "float32", 224).images_per_s == 938
    h200 = find_reference("gpu: NVIDIA H200", "ResNet50", "fine_tuning", "mixed_float16", 224)
    assert h200.images_per_s == 2790 and h200.basis == "proxy" and "H100 SXM" in h200.note
    # a scaled estimate: anchor x timm DenseNet-121 / timm ResNet-50 training (RTX 3090)
    dense = find_reference(H100, "DenseNet121", "fine_tuning", "mixed_float16", 224)
    assert dense.basis == "scaled estimate" and dense.images_per_s == round(2790 * 914 / 1218)
    fill = find_reference(H100, "InceptionV3", "cache_fill", "mixed_float16", 299)
    assert fill.workload == "inference" and fill.images_per_s == round(2790 * 2512.32 / 1218)


@pytest.mark.parametrize("device, backbone, phase, precision, size, options", [
    ("cpu: Intel(R) Xeon(R) CPU @ 2.20GHz", "ResNet50V2", "fine_tuning", "float32", 224, None),   # no CPU rows
    (H100, "ResNet50V2", "fine_tuning", "float32", 224, None),          # only mixed-precision H100 figures
    (H100, "ResNet50V2", "fine_tuning", "mixed_float16", 160, None),    # another input size
    (H100, "ResNet50V2", "head_training", "mixed_float16", 224, None),  # no published head-training figure
    (H100, "ResNet50V2", "test", "mixed_float16", 224, None),
    (H100, "MobileNetV2-0.35", "cache_fill", "mixed_float16", 224, {"alpha": 1.0}),   # another width
    (H100, "NASNetMobile", "cache_fill", "mixed_float16", 224, None),   # no figure for this backbone
    ("gpu: NVIDIA H100 NVL", "ResNet50", "fine_tuning", "mixed_float16", 224, None),
    ("gpu: NVIDIA GH200 480GB", "ResNet50", "fine_tuning", "mixed_float16", 224, None),
])
def test_no_reference_unless_everything_matches(device, backbone, phase, precision, size, options):
    assert find_reference(device, backbone, phase, precision, size, options) is None


def test_this_machine_has_no_reference():
    from harness.sweep import keras_device

    device = keras_device()[1]
    assert device.startswith(("cpu: ", "gpu"))
    if device.startswith("cpu"):
        assert all(not r.matches_device(device) for r in reference_table())


def test_share_is_measured_over_reference():
    ref = find_reference(H100, "ResNet50V2", "fine_tuning", "mixed_float16", 224)
    entry = phase_entry(6400, 4.0, ref)
    assert entry["images_per_s"] == 1600.0
    assert entry["share_of_reference"] == pytest.approx(1600 / 2790)
    assert entry["reference_images_per_s"] == 2790 and "2,790 images/s" in entry["reference"]
    assert phase_entry(10, 2.0) == {"images": 10, "seconds": 2.0, "images_per_s": 5.0, "reference_images_per_s": None,
                                    "reference": None, "share_of_reference": None}


def test_reference_only_for_whole_network_phases():
    counts = {"cache_fill": (1000, 0.5), "head_training": (300, 1.0), "fine_tuning": (0, 0.0), "test": (50, 0.1)}
    fe = throughput(counts, device=H100, backbone="ResNet50V2", strategy="feature_extractor",
                    precision="mixed_float16", input_size=224)
    assert set(fe) == {"cache_fill", "head_training", "test"}               # no images: phase omitted
    assert fe["cache_fill"]["share_of_reference"] == pytest.approx(2000 / round(2790 * 3868.33 / 1218))
    assert fe["head_training"]["reference"] is None
    partial = throughput({**counts, "fine_tuning": (64, 1.0)}, device=H100, backbone="ResNet50V2",
                         strategy="partial_finetune", precision="mixed_float16", input_size=224)
    assert all(e["reference"] is None for e in partial.values())           # part of the network only
    full = throughput({"fine_tuning": (2790, 2.0)}, device=H100, backbone="ResNet50V2", strategy="full_finetune",
                      precision="mixed_float16", input_size=224)
    assert full["fine_tuning"]["share_of_reference"] == pytest.approx(0.5)


def test_every_row_names_a_source_and_a_basis():
    data = yaml.safe_load((ROOT / "harness/engine/throughput_references.yaml").read_text())
    assert {r.basis for r in reference_table()} == {"published", "proxy", "scaled estimate"}
    for r in reference_table():
        assert r.source and r.source_keys and all(k.strip() in data["sources"] for k in r.source_keys.split(","))


def test_docs_table_is_generated_from_the_data_file():
    text = (ROOT / "docs/harness.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- throughput-references:start -->\n(.*?)\n<!-- throughput-references:end -->", text, re.S)
    assert block, "docs/harness.md lacks the generated reference table (python -m harness.engine.throughput)"
    assert block.group(1).strip() == markdown_table().strip()


def _toy_trials(tmp_path: Path, copies: int = 1):
    from harness.config import load_config

    from harness_toy import tiny_dataset

    data = tmp_path / "toy"
    tiny_dataset(n_patients=6).save(data)
    cfg = {"name": "toy-throughput", "data": {"spec": str(data), "image_size": 40},
           "augmentation": {"rotation": 20.0, "zoom": 0.8, "copies": copies},
           "training": {"epochs": 2, "batch_size": 16}, "protocol": {"folds": 2},
           "strategies": {"feature_extractor": {"lrs": [1e-2]},
                          "partial_finetune": {"lrs": [1e-2], "head_lrs": [1e-2], "depth": 1}},
           "cache_dir": str(tmp_path / "cache"),
           "grid": [{"backbone": ["MobileNetV1-0.25"], "input_size": [32], "weights": ["none"],
                     "strategy": ["feature_extractor", "partial_finetune"]}]}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_config(path).trials()


@pytest.mark.slow
def test_trial_rows_record_the_counted_images_per_phase(tmp_path):
    """Images per phase equal what the trial did: every row once plus `copies` rotated copies of
    each training row through the frozen part, the trained items, the test rows."""
    import keras

    from harness.results.schema import flatten
    from harness.trial import run_trial

    copies = 1
    fe_trial, partial_trial = _toy_trials(tmp_path, copies)
    fe = run_trial(fe_trial, tmp_path / "cache-fe")
    keras.backend.clear_session()
    partial = run_trial(partial_trial, tmp_path / "cache-partial")
    keras.backend.clear_session()
    for row in (fe, partial):
        m, t = row["metrics"], row["timings"]
        n_rows = m["n_train_images"] + m["test"]["n_test"]
        fill_per_boundary = n_rows + copies * m["n_train_images"]
        tp = t["throughput"]
        assert tp["test"]["images"] == m["test"]["n_test"]
        assert tp["test"]["seconds"] == t["test_s"]
        for entry in tp.values():
            assert entry["images_per_s"] == pytest.approx(entry["images"] / entry["seconds"])
            assert entry["reference"] is None and entry["share_of_reference"] is None     # a CPU: no reference
        assert row["device"].startswith("cpu: ")
        flat = flatten(row)
        assert flat["images_per_s_test"] == tp["test"]["images_per_s"]
        assert flat["share_of_reference_test"] is None
    assert set(fe["timings"]["throughput"]) == {"cache_fill", "head_training", "test"}
    assert fe["timings"]["throughput"]["cache_fill"]["images"] == fill_per_boundary        # pooled features once
    assert fe["timings"]["throughput"]["head_training"]["images"] == fe["timings"]["train_images"]
    tp = partial["timings"]["throughput"]
    assert set(tp) == {"cache_fill", "head_training", "fine_tuning", "test"}
    assert tp["cache_fill"]["images"] == 2 * fill_per_boundary          # pooled (warm-start head) + the boundary
    assert tp["fine_tuning"]["images"] == partial["timings"]["train_images"]
    assert tp["head_training"]["images"] > 0                            # the warm-start head's CV and refit
    from dashboard import views                                          # what the dashboard's cost chart draws
    from harness.results.schema import frame

    speed = views.throughput(frame([fe, partial]))
    assert sorted(speed["phase"]) == sorted([*fe["timings"]["throughput"], *tp])
    assert speed.set_index(["strategy", "phase"]).loc[("partial_finetune", "fine_tuning"), "images_per_s"] == \
        pytest.approx(tp["fine_tuning"]["images_per_s"])
