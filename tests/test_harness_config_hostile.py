"""Hostile sweep configs (issue 15): random bytes, random YAML, mutated presets. The loader answers
with a ConfigError or a valid config, never another exception, and a refused config writes nothing."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from harness.config import ConfigError, parse_config_bytes, validate
from harness.config.schema import key_table

ROOT = Path(__file__).resolve().parents[1]
QUICK = yaml.safe_load((ROOT / "configs" / "quick.yaml").read_text(encoding="utf-8"))
KEYS = sorted({part.strip("[]") for path, *_ in key_table() for part in path.replace("<name>", "s").split(".")}
              | {"hybrid", "svm", "rf", "oversample", "sources", "grid"})
HOSTILE = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

scalars = (st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=30) | st.sampled_from(KEYS + ["synthetic", "source:synth15", "imagenet", "1e-3", "hybrid"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), inner, max_size=4),
                      max_leaves=20)


def _check(raw) -> None:
    """validate() either accepts (and the trials then expand to JSON) or raises ConfigError."""
    try:
        cfg = validate(raw, "hostile.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("hostile.yaml: ")
        assert all(issue.key and issue.message for issue in exc.issues)
        return
    for spec in cfg.trials():
        json.dumps(spec.to_dict(), allow_nan=False)


@HOSTILE
@given(st.binary(max_size=600))
@example(b"\xff\xfe\x00g\x00r\x00i\x00d")
@example(b"a: &x [*x]\ngrid: *x\n")
@example(b"[" * 5000)
@example(b"!!python/object/apply:os.system ['true']\n")
@example(b"grid: [{backbone: MobileNet, strategy: hybrid, seed: &s [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}]\n"
         b"x: &a [*s, *s, *s, *s, *s, *s, *s, *s, *s]\ny: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
         b"training: {epochs: *b}\n")
def test_random_bytes_give_a_config_error_or_a_config(data):
    try:
        raw = parse_config_bytes(data, "hostile.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("hostile.yaml: ")
        return
    _check(raw)


@HOSTILE
@given(st.text(max_size=400))
def test_random_text_gives_a_config_error_or_a_config(text):
    try:
        raw = parse_config_bytes(text.encode("utf-8", "surrogatepass"), "hostile.yaml")
    except ConfigError:
        return
    _check(raw)


@HOSTILE
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), values, max_size=6))
def test_random_mappings_give_a_config_error_or_a_config(raw):
    _check(raw)


def _paths(node, prefix=()):
    """Every (path) to a value inside a parsed YAML document."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


QUICK_PATHS = [p for p in _paths(QUICK) if p]


@HOSTILE
@given(st.sampled_from(QUICK_PATHS), st.sampled_from(["replace", "delete", "add"]), values, st.sampled_from(KEYS))
def test_mutated_presets_give_a_config_error_or_a_config(path, how, value, extra_key):
    raw = copy.deepcopy(QUICK)
    parent = raw
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last][extra_key + "_x"] = value
    else:
        parent[last] = [parent[last], value]
    _check(raw)


@settings(derandomize=True, database=None, deadline=None, max_examples=40,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | values.map(lambda v: yaml.safe_dump({"grid": v, "training": v}).encode()))
def test_a_refused_config_writes_nothing(tmp_path_factory, capsys, data):
    from harness.cli import main

    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "c.yaml"
    path.write_bytes(data)
    try:
        validate(parse_config_bytes(data, path), path)
        assume(False)                      # a config that happens to be valid would start training
    except ConfigError:
        pass
    here = os.getcwd()
    os.chdir(folder)                       # relative writes (runs/, .harness/) would land in `folder`
    try:
        for extra in ([], ["--dry-run"]):
            assert main(["sweep", "c.yaml", *extra]) == 2
            assert "Traceback" not in capsys.readouterr().err
    finally:
        os.chdir(here)
    assert sorted(p.name for p in folder.iterdir()) == ["c.yaml"]


def test_error_messages_stay_short_for_huge_values():
    billion = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))
    raw = parse_config_bytes((billion + "grid: *i\n").encode(), "laughs.yaml")
    with pytest.raises(ConfigError) as err:
        validate(raw, "laughs.yaml")
    assert len(str(err.value)) < 5000
