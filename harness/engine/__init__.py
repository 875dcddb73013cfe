"""Mechanics of training: model-ready inputs, a model compiled once, the epoch loop.

- `inputs`: the image pipeline and bank, augmentation draws per epoch, batch order;
- `step`: `CompiledModel` (compile once, restore the full initial state per run, train steps);
- `group`: `RunGroup` (several learning rates of one fold trained together, one step for all);
- `threads`: the TensorFlow CPU thread policy (small models: one thread per op, ops in parallel);
- `loop`: `fit_epochs` (epochs → validation curve + timings), `predict_rows`;
- `context`: `TrialContext` (what one trial shares: data, base model, bank, activation cache).
"""
from .inputs import AugmentationSpec, ImageBank, epoch_order, oversampled_items, rotate_and_zoom
from .step import CompiledModel, OptimizerSettings, keras2_decay
from .group import RunGroup
from .loop import FitResult, fit_epochs, predict_rows
from .context import TrialContext

__all__ = ["AugmentationSpec", "ImageBank", "epoch_order", "oversampled_items", "rotate_and_zoom", "CompiledModel",
           "OptimizerSettings", "keras2_decay", "RunGroup", "FitResult", "fit_epochs", "predict_rows", "TrialContext"]
