"""`harness sweep --dry-run`: the trials, their images and an estimated time, from metadata only.

Each trial's estimate comes, in this order, from the same kind of trial already measured in
the store (mean wall time of done trials with the same backbone, strategy, weights and input
size), else from the cost model (`harness.cost`) with this machine's profile (`harness bench
--profile`), else with the built-in default table. One-off work is listed apart: process
start-ups, generating synthetic data that is not cached yet, and training `source:` models
that do not exist yet. Nothing is trained, generated, loaded or written.
"""
from __future__ import annotations

import time
from pathlib import Path

from .cost import CostModel, describe_machine, load_profile
from .plan import plan_sweep, source_images


def dry_run(sweep) -> dict:
    """The plan of a `harness.sweep.Sweep` as a JSON-ready dict (see harness/commands/sweep.py)."""
    from .results import ResultStore

    t0 = time.perf_counter()
    ResultStore(sweep.store_path).check_writable()         # the sweep would stop here: say so now
    todo, done = sweep.plan()
    plan = plan_sweep(sweep.config, todo)
    profile, measured_here = load_profile(sweep.cache_dir)
    model = CostModel(profile)
    observed = _observed(sweep.store_path)
    trials, total, filled = [], 0.0, {}
    for tp in plan.trials:
        spec = tp.spec
        entry = {"trial_id": spec.trial_id, "backbone": spec.backbone, "strategy": spec.strategy,
                 "weights": spec.weights, "input_size": spec.input_size, "train_patients": spec.train_patients,
                 "seed": spec.seed, "images": None if tp.images is None else vars(tp.images)}
        key = (spec.backbone, spec.strategy, spec.weights, spec.input_size)
        if key in observed:
            seconds = sum(observed[key]) / len(observed[key])
            entry.update(estimated_s=round(seconds, 1), estimate="measured in this store",
                         note=f"mean of {len(observed[key])} done trial(s)")
        elif tp.images is None:
            seconds = 0.0
            entry.update(estimated_s=None, estimate="unknown", note=f"images {tp.data.how}")
        else:
            key = model.activation_key(spec)
            est = model.trial(spec, tp.images, frozenset(filled.get(key, ())))
            filled.setdefault(key, set()).update(
                {"feature_extractor": {"pooled"}, "hybrid_svm": {"pooled"}, "hybrid_rf": {"pooled"},
                 "partial_finetune": {"pooled", "boundary"}}.get(spec.strategy, set()))
            seconds = est.seconds
            entry.update(estimated_s=round(seconds, 1), estimate="profile" if measured_here else "default table",
                         phases=est.phases, note=est.note)
        total += seconds
        trials.append(entry)
    one_off = _one_off(sweep, plan, model, len(todo))
    total += sum(item["seconds"] for item in one_off)
    return {"config": str(sweep.config.path), "store": str(sweep.store_path), "to_run": len(todo),
            "already_done": len(done), "estimated_total_s": round(total, 1),
            "assumed": {"machine": describe_machine(profile.machine if measured_here else _here()),
                        "profile": profile.source, "measured_at": profile.measured_at,
                        "measured_on": describe_machine(profile.machine),
                        "note": None if measured_here else
                        "no profile of this machine: estimates use the default table, measured on the machine "
                        "named in measured_on; run `harness bench --profile CONFIG` here for this machine's"},
            "one_off": one_off, "trials": trials, "seconds": round(time.perf_counter() - t0, 2)}


def _here() -> dict:
    from .cost import machine

    return machine()


def _observed(store_path: Path) -> dict:
    from .results import ResultStore

    out: dict = {}
    if not Path(store_path).is_file():
        return out
    for row in ResultStore(store_path).rows("done"):
        config, timings = row.get("config") or {}, row.get("timings") or {}
        if timings.get("total_s") is not None:
            key = (row["backbone"], row["strategy"], row["weights"], config.get("input_size"))
            out.setdefault(key, []).append(float(timings["total_s"]))
    return out


def _one_off(sweep, plan, model: CostModel, n_todo: int) -> list[dict]:
    """Start-ups, data generation and source training the trials need once."""
    from .backbones import get_backbone
    from .sweep import source_root_for
    from .weights import SOURCE_FILE, WeightsSpec, source_dir

    items = []
    if n_todo:
        starts = 1 + (n_todo if sweep.config.isolation == "process" else 0)
        items.append({"what": f"{starts} process start-up(s) (Python + Keras)",
                      "seconds": round(starts * model.profile.startup_s, 1)})
    used = {(tp.spec.data["spec"], tp.spec.data["image_size"], tp.spec.data["frames"]) for tp in plan.trials}
    for (spec, size, frames), manifest in plan.datasets.items():
        if manifest.patients_to_make and ((spec, size, frames) in used or spec in {m.spec for m in plan.sources.values()}):
            items.append({"what": f"generate {spec} ({manifest.patients_to_make} patients at {size} px)",
                          "seconds": round(model.data(manifest.patients_to_make, size, frames), 1)})
    seen = set()
    for tp in plan.trials:
        spec = tp.spec
        weights = WeightsSpec.parse(spec.weights)
        if weights.kind != "source" or spec.source is None:
            continue
        backbone = get_backbone(spec.backbone)
        size = spec.input_size or backbone.input_size
        folder = source_dir(weights, backbone, size, source_root_for(spec.to_dict(), sweep.sources_root))
        if folder in seen or (folder / SOURCE_FILE).exists():
            continue
        seen.add(folder)
        images = source_images(plan.sources[weights.value], spec.training["oversample"])
        if images is None:
            items.append({"what": f"train source {weights.value} for {backbone.name}@{size}", "seconds": 0.0,
                          "note": f"images {plan.sources[weights.value].how}"})
            continue
        batch = spec.source.get("batch_size", spec.training["batch_size"])
        est = model.source(backbone.name, size, images, spec.source["epochs"], batch, spec.augmentation["copies"])
        items.append({"what": f"train source {weights.value} for {backbone.name}@{size} ({images[0]} images, "
                              f"{spec.source['epochs']} epochs)", "seconds": round(est.seconds, 1),
                      "phases": est.phases})
    return items
