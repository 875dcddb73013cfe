"""The same sweep run by this checkout and by an earlier commit, side by side on this machine.

    python -m harness.compare_commits 6e81d96 --config configs/quick.yaml --rounds 2

Why a command and not a number in a README: a speed-up only means something measured on
one machine, at one load, on the same work. This checks out COMMIT into a temporary git
worktree, takes the sweep config *as it was at COMMIT* (so both codes do the same work),
and runs it alternately with the old and the current code (old, new, old, new, ...), each
run in a fresh working directory (fresh results store and caches: source pretraining,
features and generated data are paid by both). It prints each run's wall time and the load
average around it, the ratio of the medians (old / new), and the two result tables side by
side with the largest metric difference. Differences in the tables are expected where the
harness fixed a wrong number since COMMIT (see docs/harness.md); they are reported, not hidden.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
METRICS = ("accuracy", "auc_weighted")


def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _run(code: Path, config: Path, workdir: Path) -> dict:
    """One sweep with the harness found at `code`; wall time, load before/after, exit status."""
    workdir.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("HARNESS_CPU_THREADS", None)
    cmd = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())",
           "sweep", str(config), "--store", str(workdir / "results.sqlite"), "--no-progress"]
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"sweep with {code} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return {"wall_s": wall, "load_before": load_before, "load_after": os.getloadavg()[0],
            "table": _table(workdir / "results.sqlite")}


def _table(store: Path) -> dict:
    """(backbone, strategy, weights, seed) -> test metrics, read with plain sqlite3 (any schema version)."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT backbone, strategy, weights, seed, metrics FROM trials WHERE status='done'").fetchall()
    out = {}
    for backbone, strategy, weights, seed, metrics in rows:
        test = json.loads(metrics).get("test", {})
        out[f"{backbone} {strategy} {weights} seed {seed}"] = {m: test.get(m) for m in METRICS}
    return out


def compare(commit: str, config: str, rounds: int) -> dict:
    sha = _git("rev-parse", "--short", commit).strip()
    head = _git("rev-parse", "--short", "HEAD").strip()
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no").strip())
    with tempfile.TemporaryDirectory(prefix="compare-commits-") as tmp:
        tmp = Path(tmp)
        old_code = tmp / f"code-{sha}"
        _git("worktree", "add", "--detach", str(old_code), sha)
        try:
            cfg = tmp / "config.yaml"
            cfg.write_text(_git("show", f"{sha}:{config}"))
            runs: dict[str, list[dict]] = {"old": [], "new": []}
            for r in range(rounds):
                for label, code in (("old", old_code), ("new", REPO)):
                    run = _run(code, cfg, tmp / f"{label}-{r}")
                    runs[label].append(run)
                    print(f"round {r + 1}/{rounds} {label:3s} ({sha if label == 'old' else head}): "
                          f"{run['wall_s']:7.1f} s  (load {run['load_before']:.2f} -> {run['load_after']:.2f})",
                          flush=True)
        finally:
            _git("worktree", "remove", "--force", str(old_code))
    old_s = statistics.median(r["wall_s"] for r in runs["old"])
    new_s = statistics.median(r["wall_s"] for r in runs["new"])
    old_t, new_t = runs["old"][-1]["table"], runs["new"][-1]["table"]
    diffs = {k: {m: (None if old_t[k][m] is None or new_t[k][m] is None else new_t[k][m] - old_t[k][m])
                 for m in METRICS} for k in sorted(set(old_t) & set(new_t))}
    largest = max((abs(v) for d in diffs.values() for v in d.values() if v is not None), default=None)
    return {"commit": sha, "head": head + (" (uncommitted changes)" if dirty else ""), "config": config,
            "rounds": rounds, "cores": os.cpu_count(), "old_wall_s": [round(r["wall_s"], 1) for r in runs["old"]],
            "new_wall_s": [round(r["wall_s"], 1) for r in runs["new"]],
            "loads": [round(r[k], 2) for label in ("old", "new") for r in runs[label] for k in ("load_before", "load_after")],
            "speedup_median": round(old_s / new_s, 3), "old_table": old_t, "new_table": new_t,
            "metric_differences": diffs, "largest_metric_difference": largest,
            "rows_only_old": sorted(set(old_t) - set(new_t)), "rows_only_new": sorted(set(new_t) - set(old_t))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.compare_commits", description=__doc__.split("\n\n")[0])
    parser.add_argument("commit", help="the earlier commit, e.g. 6e81d96")
    parser.add_argument("--config", default="configs/quick.yaml", help="sweep config path, as it was at COMMIT")
    parser.add_argument("--rounds", type=int, default=2, help="old/new pairs to run (median wall time)")
    parser.add_argument("--json", action="store_true", help="print the whole comparison as JSON")
    args = parser.parse_args(argv)
    if shutil.which("git") is None:
        print("error: git is needed to check out the earlier commit", file=sys.stderr)
        return 2
    try:
        _git("cat-file", "-e", f"{args.commit}^{{commit}}")
    except subprocess.CalledProcessError:
        print(f"error: {args.commit!r} is not a commit of {REPO}", file=sys.stderr)
        return 2
    result = compare(args.commit, args.config, max(1, args.rounds))
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    print(f"\nmedian wall time: {result['commit']} {statistics.median(result['old_wall_s']):.1f} s, "
          f"{result['head']} {statistics.median(result['new_wall_s']):.1f} s -> {result['speedup_median']:.2f}x "
          f"({result['cores']} cores; loads {result['loads']})")
    print(f"{'trial':58s} {'acc old':>8s} {'acc new':>8s} {'auc old':>8s} {'auc new':>8s}")
    for key in sorted(set(result["old_table"]) | set(result["new_table"])):
        o, n = result["old_table"].get(key, {}), result["new_table"].get(key, {})
        cells = [o.get("accuracy"), n.get("accuracy"), o.get("auc_weighted"), n.get("auc_weighted")]
        print(f"{key:58s} " + " ".join(f"{c:8.3f}" if c is not None else f"{'-':>8s}" for c in cells))
    print(f"largest metric difference: {result['largest_metric_difference']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
