"""`harness bench --engine`: dense-head steps/s and the engine's per-step overhead against a naive loop."""
from __future__ import annotations

import pytest


def test_engine_bench_counts_steps_and_compares_with_the_naive_loop():
    from harness.bench import engine_bench

    r = engine_bench(feature_dim=16, batch_size=32, items=100, epochs=2, repeats=1)
    head, over = r["head"], r["engine_overhead"]
    assert head["steps"] == 2 * 4 == over["steps"]                     # ceil(100 / 32) steps per epoch
    assert r["head_steps_per_s"] == pytest.approx(head["steps"] / head["seconds"], rel=1e-3)
    assert over["naive_over_engine"] == pytest.approx(over["naive_s_per_step"] / over["engine_s_per_step"], rel=1e-2)
    assert r["load_average"]["before"] is not None and r["device"]
    assert over["steps_per_execution"] == (1 if r["device"].startswith("cpu") else 64)   # as trials run (auto)


def test_engine_flag_takes_no_config(capsys):
    from pathlib import Path

    from harness.cli import main

    config = Path(__file__).resolve().parents[1] / "configs" / "quick.yaml"
    assert main(["bench", "--engine", str(config)]) == 2
    assert "--engine takes no CONFIG" in capsys.readouterr().err
