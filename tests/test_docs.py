"""The command reference in docs/cli.md is generated from the code: it must not drift."""
from __future__ import annotations

import importlib.util


def test_cli_reference_is_up_to_date(repo_root):
    spec = importlib.util.spec_from_file_location("make_cli_reference", repo_root / "docs" / "make_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (repo_root / "docs" / "cli.md").read_text(encoding="utf-8") == module.render(), \
        "docs/cli.md is stale: run `python docs/make_cli_reference.py`"


def test_readme_starts_with_install_and_test_commands(repo_root):
    head = (repo_root / "README.md").read_text(encoding="utf-8").splitlines()[:6]
    assert any(line.strip().startswith("pip install") for line in head)
    assert any(line.strip().startswith("python -m pytest") for line in head)
    ci = (repo_root / ".ci" / "run").read_text(encoding="utf-8")
    assert "\npython -m pytest\n" in ci  # CI runs exactly the README's test command
