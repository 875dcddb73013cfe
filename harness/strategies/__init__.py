"""The transfer-learning strategies (policy only: what is frozen, what trains, on which inputs).

Registered by name where they are defined (`@register`):

- `feature_extractor` (depth 0): frozen base, dense head;
- `hybrid_svm`, `hybrid_rf`: frozen base, scikit-learn classifier (`hybrid` in a config = both);
- `partial_finetune` (depth >= 1): last block(s) + head, head warm-started;
- `full_finetune`: every layer (also the CBR baselines from scratch).

`make_learner(name, ctx, settings, options)` builds one; mechanics are in `harness.engine`,
selection and testing in `harness.protocol`.
"""
from .base import STRATEGIES, Strategy, TrainSettings, default_options, get_strategy, register, set_trainable
from .frozen import FeatureExtractor, Hybrid, HybridRF, HybridSVM
from .full import FullFinetune
from .network import KerasStrategy
from .partial import PartialFinetune


def make_learner(strategy: str, ctx, settings: TrainSettings, options: dict) -> Strategy:
    """The strategy `strategy` for one trial; `options` is its merged config section."""
    return get_strategy(strategy)(ctx, settings, options)


__all__ = ["STRATEGIES", "Strategy", "KerasStrategy", "TrainSettings", "FeatureExtractor", "Hybrid", "HybridSVM",
           "HybridRF", "PartialFinetune", "FullFinetune", "default_options", "get_strategy",
           "make_learner", "register", "set_trainable"]
