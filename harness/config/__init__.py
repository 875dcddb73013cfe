"""Sweep configuration: `schema.py` declares every key (types, ranges, defaults), `load.py` reads a
YAML file into a checked `SweepConfig`, whose `trials()` are `TrialSpec`s."""
from .errors import ConfigError, Issue
from .load import SweepConfig, load_config, parse_config_bytes, read_config, validate
from .trial import TrialSpec, trial_id

__all__ = ["ConfigError", "Issue", "SweepConfig", "TrialSpec", "load_config", "parse_config_bytes", "read_config",
           "trial_id", "validate"]
