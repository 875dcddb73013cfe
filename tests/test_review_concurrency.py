"""Shared use: every writer of the studies CSV takes its one lock, and concurrent writers all land.

(The dashboard's half, two browser sessions adding at once, is tested with the dashboard.)"""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from review import store
from review.store import append_study, load_studies, locked, read_text_frame

FIX = Path(__file__).parent / "fixtures" / "review"


def _study(sid: str, year: int = 2021) -> dict:
    return {"study_id": sid, "year": year, "title": f"study {sid}", "authors": "Doe J",
            "source_url": "https://example.org/x", "evidence": "e", "coded_by": "t", "confidence": "low"}


def test_every_writer_takes_the_csv_lock(tmp_path, monkeypatch):
    from review.bibtex import import_bib
    from review.ris import import_ris
    from review.xlsx import export_xlsx, import_xlsx

    csv_path = Path(shutil.copy(FIX / "studies_small.csv", tmp_path / "s.csv"))
    taken: list[str] = []
    real = store._lock

    @contextmanager
    def recording(path):
        with real(path):
            taken.append(Path(path).name)
            yield

    monkeypatch.setattr(store, "_lock", recording)
    writers = {
        "add": lambda: append_study(csv_path, _study("lock2021")),
        "import-bib": lambda: import_bib(FIX / "edge_cases.bib", csv_path),
        "import-ris": lambda: import_ris(FIX / "scopus.ris", csv_path),
        "import-xlsx": lambda: (export_xlsx(csv_path, tmp_path / "s.xlsx"), import_xlsx(tmp_path / "s.xlsx", csv_path)),
        "merge-coding (write_studies)": lambda: store.write_studies(csv_path, load_studies(csv_path)),
    }
    for name, write in writers.items():
        taken.clear()
        write()
        assert taken == ["s.csv"], name


def test_locked_is_reentrant_and_holds_off_other_writers(tmp_path):
    csv_path = Path(shutil.copy(FIX / "studies_small.csv", tmp_path / "s.csv"))
    done = threading.Event()
    worker = threading.Thread(target=lambda: (append_study(csv_path, _study("other2021")), done.set()))
    with locked(csv_path):
        append_study(csv_path, _study("inside2021"))  # re-entrant: the holder may write
        worker.start()
        assert not done.wait(0.5)  # the other session waits for the lock ...
        assert "other2021" not in set(read_text_frame(csv_path)["study_id"])
    worker.join(30)
    assert done.is_set()  # ... and lands once it is released
    assert {"inside2021", "other2021"} <= set(read_text_frame(csv_path)["study_id"])


CLI = "import sys; from review.cli import main; raise SystemExit(main(sys.argv[1:]))"


@pytest.mark.slow
def test_concurrent_cli_processes_all_land(tmp_path):
    """Two `review add` processes and a `review import-ris` write the same CSV at the same time."""
    csv_path = Path(shutil.copy(FIX / "studies_small.csv", tmp_path / "s.csv"))
    script = tmp_path / "adds.sh"
    lines = ["set -e"]
    for who in ("alpha", "beta"):
        adds = " && ".join(
            f'"{sys.executable}" -c "{CLI}" add --csv "{csv_path}" --study-id {who}{2001 + i} --year {2001 + i} '
            f'--title "{who} {i}" --authors "Doe J" --source-url https://example.org/{who} --evidence e '
            f"--coded-by {who} --confidence low" for i in range(3))
        lines.append(f"( {adds} ) > {tmp_path}/{who}.log 2>&1 &")
    lines.append(f'"{sys.executable}" -c "{CLI}" import-ris "{FIX / "scopus.ris"}" --csv "{csv_path}" '
                 f"> {tmp_path}/ris.log 2>&1 &")
    lines.append("wait")
    script.write_text("\n".join(lines) + "\n")
    started = time.time()
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300)
    logs = {p.name: p.read_text() for p in tmp_path.glob("*.log")}
    assert result.returncode == 0, (result.stderr, logs)
    ids = list(read_text_frame(csv_path)["study_id"])
    expected = {f"{w}{2001 + i}" for w in ("alpha", "beta") for i in range(3)} | {"odegaard2020"}
    assert expected <= set(ids) and len(ids) == 2 + len(expected), (ids, logs)
    assert len(load_studies(csv_path)) == len(ids)  # whole and valid
    assert time.time() - started < 300
