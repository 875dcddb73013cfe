"""Meta-analysis of the coded studies: Dataset -> Estimator -> Result (the PyMARE structure).

- `dataset`: logit-scale effect sizes and variances from the studies CSV, design matrices;
- `estimators`: tau^2 by REML or DerSimonian-Laird (registered by name);
- `results`: coefficients (statsmodels WLS), heterogeneity, prediction interval, Egger's test;
- `analysis`: `meta_analysis(studies, metric, moderators, method) -> MetaResult`;
- `plots`: forest and funnel plots.
"""
from review.meta.analysis import MetaResult, meta_analysis
from review.meta.dataset import MetaDataset, MetaError
from review.meta.estimators import make_estimator

__all__ = ["MetaDataset", "MetaError", "MetaResult", "make_estimator", "meta_analysis"]
