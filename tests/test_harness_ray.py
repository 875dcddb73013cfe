"""The Ray executor on this machine: same trials and results as the embedded executor, worker deaths
retried and recorded once, a killed driver resumed without loss or repeats, Ctrl-C, logical GPUs packed.

The command-line tests start their own local Ray through `harness sweep --executor ray` (and check it
listens on 127.0.0.1 only and is gone when the command ends); the others share one local instance
(2 CPUs, 1 logical GPU, no dashboard) started here once for the module."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from harness.executors.ray import LOCAL_ONLY_ENV

os.environ.setdefault(LOCAL_ONLY_ENV, "0")          # this module's own instance: 127.0.0.1 too (read at import)
ray = pytest.importorskip("ray")

from harness.cli import main  # noqa: E402
from harness.config import load_config  # noqa: E402
from harness.executors.ray import RayExecutor  # noqa: E402
from harness.results import ResultStore  # noqa: E402
from harness.sweep import Sweep  # noqa: E402

from test_harness_executors import toy_config  # noqa: E402
from test_harness_strategies import tiny_dataset  # noqa: E402

pytestmark = pytest.mark.slow
TAG = "HARNESS_TEST_RAY_TAG"        # set on a command under test; every process it starts inherits it
METRICS = ("accuracy", "auc_macro", "auc_weighted")
TOLERANCE = 0.02                     # the bench's tolerance for two paths computing the same trial


# ---------------------------------------------------------------------------- processes of a command

def tagged_processes(tag: str, session: int | None = None) -> dict[int, str]:
    """Live processes (not zombies) of a command under test: pid -> command line.

    Those whose environment carries TAG=tag (the command, Ray's head processes, its workers) and,
    given the command's session id, those in its session (Ray's agents get an environment of their own)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            state, sid = stat[0], int(stat[4])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if state != "Z" and (f"{TAG}={tag}".encode() in environ or (session is not None and sid == session)):
            found[int(entry.name)] = cmdline.strip()
    return found


def kill_tagged(tag: str, session: int, timeout: float = 30.0) -> None:
    """Remove what a killed command left behind (by pid, only the command's own processes)."""
    deadline = time.time() + timeout
    while (left := tagged_processes(tag, session)) and time.time() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    assert not tagged_processes(tag, session), "could not clean up the killed sweep's processes"


def gone_within(tag: str, session: int, seconds: float) -> dict[int, str]:
    deadline = time.time() + seconds
    while (left := tagged_processes(tag, session)) and time.time() < deadline:
        time.sleep(0.1)
    return left


LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def listening_sockets(pids) -> set[tuple[str, int]]:
    """(hex address as /proc/net/tcp* writes it, port) of the TCP sockets these processes listen on."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:          # 0A: LISTEN
                address, port = fields[1].split(":")
                found.add((address, int(port, 16)))
    return found


def sweep_command(cfg: Path, store: Path, tag: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", TAG: tag}
    env.pop(LOCAL_ONLY_ENV, None)                     # the harness must bind 127.0.0.1 by itself
    cmd = [sys.executable, "-m", "harness.cli", "sweep", str(cfg), "--store", str(store), "--executor", "ray",
           "--no-progress", "--json", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True,      # its own process group, as a terminal job would be
                            preexec_fn=_terminal_signals)


def _terminal_signals() -> None:
    """In the child: SIGINT as a shell gives it (default action, not blocked), whatever the test
    process inherited from earlier tests (an ignored or blocked SIGINT passes to children)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


# ---------------------------------------------------------------------------- the command line (own local Ray)

def test_ctrl_c_cancels_trials_and_stops_the_local_instance(tmp_path):
    # six trials, two at a time: when Ctrl-C comes, trials are still queued, so the sweep
    # cannot have finished on its own (with three, a slow CI machine could reach the end first)
    cfg = toy_config(tmp_path, seeds=tuple(range(6)))
    tag = uuid.uuid4().hex
    proc = sweep_command(cfg, tmp_path / "r.sqlite", tag)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if any("_trial_task" in cmd for cmd in tagged_processes(tag).values()):
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        processes = tagged_processes(tag, proc.pid)
        assert any("gcs_server" in c for c in processes.values()) and any("raylet" in c for c in processes.values())
        sockets = listening_sockets(processes)
        assert sockets and {a for a, _ in sockets} <= LOOPBACK, f"the local Ray listens beyond 127.0.0.1: {sockets}"
        assert 8265 not in {port for _, port in sockets}                # no dashboard web UI
        os.killpg(proc.pid, signal.SIGINT)                          # Ctrl-C in the terminal
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err[-2000:]
        assert "interrupted" in err and "--resume" in err and "Traceback" not in err
        left = gone_within(tag, proc.pid, 5.0)
        assert not left, f"processes outlived the command: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_tagged(tag, proc.pid)


def test_driver_killed_then_resumed_loses_nothing_and_repeats_nothing(tmp_path):
    cfg = toy_config(tmp_path, seeds=(0, 1, 2))
    store_path = tmp_path / "r.sqlite"
    tag = uuid.uuid4().hex
    proc = sweep_command(cfg, store_path, tag)
    try:
        deadline = time.time() + 300
        done_before: list[dict] = []
        while time.time() < deadline and proc.poll() is None and not done_before:
            if store_path.exists():
                done_before = ResultStore(store_path).rows("done")
            time.sleep(0.2)
        assert proc.poll() is None, "the sweep ended before it could be killed: " + proc.communicate()[1][-2000:]
        assert done_before, "no trial finished in time"
        os.kill(proc.pid, signal.SIGKILL)                            # the driver only, mid-sweep
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_tagged(tag, proc.pid)          # Ray's agents outlive a SIGKILLed driver for a while
    killed = {r["trial_id"]: r["finished_at"] for r in ResultStore(store_path).rows("done")}
    assert 1 <= len(killed) < 3

    tag = uuid.uuid4().hex
    resumed = sweep_command(cfg, store_path, tag, "--resume")
    try:
        out, err = resumed.communicate(timeout=600)
        assert resumed.returncode == 0, err[-3000:]
        assert not gone_within(tag, resumed.pid, 5.0), "the resumed command's local Ray outlived it"
    finally:
        if resumed.poll() is None:
            resumed.kill()
            resumed.wait()
        kill_tagged(tag, resumed.pid)
    summary = json.loads(out)
    assert summary["skipped_done"] == len(killed) and summary["ran"] == 3 - len(killed) and summary["failed"] == 0
    rows = ResultStore(store_path).rows()
    assert len(rows) == 3 and {r["status"] for r in rows} == {"done"}
    assert all(r["finished_at"] == killed[r["trial_id"]] for r in rows if r["trial_id"] in killed)  # not rerun
    assert {r["timings"]["executor"]["name"] for r in rows} == {"ray"}


# ---------------------------------------------------------------------------- one shared local instance

@pytest.fixture(scope="module")
def cluster():
    """2 CPUs and one logical GPU (Ray does not check that it exists; nothing here touches a GPU)."""
    try:
        ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
        yield ray
    finally:
        ray.shutdown()


def test_same_trials_and_results_as_the_embedded_executor(cluster, tmp_path, capsys):
    source_data = tmp_path / "source-data"
    tiny_dataset(n_patients=6, seed=1).save(source_data)
    cfg = toy_config(tmp_path, strategies=("feature_extractor", "full_finetune"), weights=("source:toy",),
                     sources={"toy": {"data": str(source_data), "epochs": 1, "lr": 1e-2}})
    embedded, distributed = tmp_path / "embedded" / "r.sqlite", tmp_path / "ray" / "r.sqlite"
    assert main(["sweep", str(cfg), "--store", str(embedded), "--no-progress"]) == 0
    assert main(["sweep", str(cfg), "--store", str(distributed), "--no-progress", "--executor", "ray",
                 "--gpus-per-trial", "0"]) == 0
    capsys.readouterr()
    ours = {r["trial_id"]: r for r in ResultStore(embedded).rows()}
    theirs = {r["trial_id"]: r for r in ResultStore(distributed).rows()}
    assert len(ours) == 2 and theirs.keys() == ours.keys()
    for trial_id, row in ours.items():
        other = theirs[trial_id]
        assert other["status"] == row["status"] == "done"
        for metric in METRICS:
            assert abs(other["metrics"]["test"][metric] - row["metrics"]["test"][metric]) <= TOLERANCE, (trial_id, metric)
        assert other["weights_label"] == row["weights_label"]
        assert other["timings"]["executor"]["name"] == "ray" and row["timings"]["executor"]["name"] == "local"
        assert other["timings"]["executor"]["memory"] == {"CUDA_VISIBLE_DEVICES": "", "KERAS_BACKEND": "tensorflow"}
    # the source model was trained once, by its own task: the driver keeps it, no trial trained it again
    kept = list((distributed.parent / "sources").rglob("base.weights.h5"))
    assert len(kept) == 1 and (kept[0].parent / "source.json").is_file()
    assert all(r["timings"]["source_s"] < 0.5 for r in theirs.values())


def test_a_worker_that_dies_is_retried_and_recorded_once(cluster, tmp_path, monkeypatch):
    attempts = tmp_path / "attempts"
    attempts.mkdir()

    def dies_on_first_attempt(trial, cache_dir, sources_root):       # seed 0: once; seed 1: every time
        log = attempts / trial["trial_id"]
        with log.open("a") as fh:
            fh.write("attempt\n")
        if trial["seed"] == 1 or len(log.read_text().splitlines()) == 1:
            os._exit(1)
        return {"trial_id": trial["trial_id"], "status": "done", "backbone": trial["backbone"],
                "strategy": trial["strategy"], "weights": trial["weights"], "seed": trial["seed"], "config": trial,
                "metrics": {"pid": os.getpid()}, "started_at": time.time(), "finished_at": time.time()}

    recorded: list[str] = []
    record = ResultStore.record
    monkeypatch.setattr(ResultStore, "record", lambda self, row: (recorded.append(row["trial_id"]), record(self, row)))
    config = load_config(toy_config(tmp_path, seeds=(0, 1)))
    executor = RayExecutor(gpus_per_trial=0, max_retries=1, runner=dies_on_first_attempt)
    summary = Sweep(config, store_path=tmp_path / "r.sqlite", progress=False, executor=executor).run()
    assert summary["ran"] == 2 and summary["failed"] == 1
    rows = {r["seed"]: r for r in ResultStore(tmp_path / "r.sqlite").rows()}
    assert sorted(recorded) == sorted(r["trial_id"] for r in rows.values())        # each recorded exactly once
    assert rows[0]["status"] == "done"
    assert rows[1]["status"] == "failed" and "WorkerCrashedError" in rows[1]["error"] and "1 retry" in rows[1]["error"]
    for row in rows.values():                                                    # first attempt + one retry
        assert len((attempts / row["trial_id"]).read_text().splitlines()) == 2


def test_fractional_gpus_pack_four_trials_on_one_logical_gpu(cluster, tmp_path):
    started = tmp_path / "started"
    started.mkdir()

    def waits_for_company(trial, cache_dir, sources_root):
        """Waits until four trials have started (or a minute), so overlap shows what Ray runs at once."""
        begin = time.time()
        (started / trial["trial_id"]).touch()
        while len(list(started.iterdir())) < 4 and time.time() < begin + 60:
            time.sleep(0.05)
        time.sleep(0.5)
        seen = {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "XLA_PYTHON_CLIENT_MEM_FRACTION",
                                               "TF_FORCE_GPU_ALLOW_GROWTH")}
        return {"trial_id": trial["trial_id"], "status": "done", "backbone": trial["backbone"],
                "strategy": trial["strategy"], "weights": trial["weights"], "seed": trial["seed"], "config": trial,
                "metrics": {"env": seen, "pid": os.getpid()}, "started_at": begin, "finished_at": time.time()}

    config = load_config(toy_config(tmp_path, seeds=(0, 1, 2, 3, 4)))
    executor = RayExecutor(gpus_per_trial=0.25, cpus_per_trial=0.25, max_in_flight=5, runner=waits_for_company)
    assert Sweep(config, store_path=tmp_path / "r.sqlite", progress=False, executor=executor).run()["failed"] == 0
    rows = ResultStore(tmp_path / "r.sqlite").rows()
    edges = sorted([(r["started_at"], 1) for r in rows] + [(r["finished_at"], -1) for r in rows])
    running, most = 0, 0
    for _, step in edges:
        running += step
        most = max(most, running)
    assert most == 4                       # four quarters of the GPU at once, never a fifth (5 were submitted)
    assert len({r["metrics"]["pid"] for r in rows}) == 5            # one worker process per trial
    for r in rows:
        assert r["metrics"]["env"] == {"CUDA_VISIBLE_DEVICES": "0", "XLA_PYTHON_CLIENT_MEM_FRACTION": "0.225",
                                       "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
        assert r["timings"]["executor"]["gpus_per_trial"] == 0.25
