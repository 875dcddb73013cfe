"""Crash-safe results store: one SQLite row per trial, written in one transaction.

- Reading never writes: reads open the file read-only (`mode=ro`); no journal switch, no
  CREATE, so the dashboard and `harness results` can look at a store a sweep is filling.
- Writing (`initialise`, `record`) creates the file and the table on first use, switches to
  WAL once, and stamps `PRAGMA user_version` with the schema version. A row goes in with one
  `INSERT ... ON CONFLICT DO UPDATE ... WHERE status != 'done'` inside `BEGIN IMMEDIATE`: a
  failed attempt is replaced by its retry, a done trial is never overwritten, and two writers
  cannot interleave a check and an insert.
- Stores from before the version stamp (user_version 0, commit 6e81d96) have the same table
  and are read as they are; the first write stamps them.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from .schema import COLUMNS, CREATE_TABLE, JSON_COLUMNS, SCHEMA_VERSION, RowError, TrialRow, frame

BUSY_TIMEOUT_S = 30


class StoreError(ValueError):
    """A results store that cannot be read or written; the message names the file and what to do."""

    def __init__(self, path: str | Path, problem: str, hint: str = ""):
        self.path, self.problem, self.hint = str(path), problem, hint
        super().__init__(f"{path}: {problem}" + (f" ({hint})" if hint else ""))


class TrialAlreadyDone(StoreError):
    """`record` of a trial whose finished row is already stored."""


class ResultStore:
    """One SQLite file of trial rows. Construction touches nothing; every call opens a short connection."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._initialised = False

    # ------------------------------------------------------------------ reading
    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            raise StoreError(self.path, "no results store here",
                             "run a sweep first, or give the results.sqlite a sweep wrote")
        if self.path.is_dir():
            raise StoreError(self.path, "is a folder, not a results store", "give the results.sqlite file inside it")
        try:
            con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise StoreError(self.path, f"cannot be opened ({exc})") from None
        with closing(con):
            self._check(con, writing=False)
            try:
                yield con
            except sqlite3.DatabaseError as exc:
                raise StoreError(self.path, f"cannot be read ({exc})") from None

    def _check(self, con: sqlite3.Connection, writing: bool) -> bool:
        """Raise for anything but a harness store of a known version; True if the table exists."""
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            columns = [r[1] for r in con.execute("PRAGMA table_info(trials)")] if "trials" in tables else []
        except sqlite3.DatabaseError as exc:
            raise StoreError(self.path, f"not a SQLite results store ({exc})",
                             "give the results.sqlite a harness sweep wrote") from None
        if version > SCHEMA_VERSION:
            raise StoreError(self.path, f"schema version {version} is newer than this harness reads "
                                        f"(up to {SCHEMA_VERSION})", "upgrade tl-medimg to read it")
        if "trials" not in tables:
            if writing and not tables:
                return False
            if not tables and self.path.is_file() and self.path.stat().st_size == 0:
                raise StoreError(self.path, "empty file: not a results store (yet)",
                                 "give the results.sqlite a harness sweep wrote")
            raise StoreError(self.path, f"SQLite file without a 'trials' table (tables: {sorted(tables) or 'none'}): "
                                        "not a harness results store", "give the results.sqlite a harness sweep wrote")
        missing = [c for c in COLUMNS if c not in columns]
        if missing:
            raise StoreError(self.path, f"'trials' table lacks columns {missing}: not a harness results store")
        return True

    def done_ids(self, sweep: str | None = None) -> set[str]:
        """Ids of finished trials (an absent store has none)."""
        if not self.path.exists():
            return set()
        sql = "SELECT trial_id FROM trials WHERE status='done'" + (" AND sweep=?" if sweep else "")
        with self._reader() as con:
            return {r[0] for r in con.execute(sql, (sweep,) if sweep else ())}

    def rows(self, status: str | None = None) -> list[dict[str, Any]]:
        """Stored rows, oldest first, JSON columns parsed; a malformed cell names its trial and column."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM trials" + (" WHERE status=?" if status else "") + \
            " ORDER BY finished_at, trial_id"
        with self._reader() as con:
            records = [dict(zip(COLUMNS, r)) for r in con.execute(sql, (status,) if status else ())]
        for row in records:
            for c in JSON_COLUMNS:
                try:
                    row[c] = json.loads(row[c]) if row[c] else None
                except (json.JSONDecodeError, TypeError) as exc:
                    raise StoreError(self.path, f"trial {row['trial_id']!r}, column {c!r}: not valid JSON ({exc})") \
                        from None
        return records

    def frame(self, status: str | None = None):
        """Tidy table (harness.results.schema.TRIAL_COLUMNS), one row per trial."""
        try:
            return frame(self.rows(status))
        except RowError as exc:
            raise StoreError(self.path, str(exc)) from None

    def check_writable(self) -> None:
        """Raise StoreError when `record` could not write here; writes nothing (for dry runs)."""
        if self.path.exists():
            if self.path.is_file() and self.path.stat().st_size == 0:
                return                                     # an empty file becomes a store
            with self._reader():
                pass
            return
        blocker = next((p for p in self.path.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise StoreError(self.path, f"cannot create its folder ({blocker} is a file)",
                             "give a --store path in a writable folder")
        if blocker is not None and not os.access(blocker, os.W_OK):
            raise StoreError(self.path, f"cannot create it ({blocker} is not writable)",
                             "give a --store path in a writable folder")

    # ------------------------------------------------------------------ writing
    def _folder(self) -> None:
        """Create the store's folder, or say why it cannot be."""
        blocker = next((p for p in self.path.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise StoreError(self.path, f"cannot create its folder ({blocker} is a file)",
                             "give a --store path in a writable folder")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(self.path, f"cannot create its folder ({exc.strerror or exc})",
                             "give a --store path in a writable folder") from None
        if self.path.is_dir():
            raise StoreError(self.path, "is a folder, not a results store", "give a file path such as runs/x/results.sqlite")

    @contextmanager
    def _writer(self) -> Iterator[sqlite3.Connection]:
        self._folder()
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(self.path, f"cannot be opened for writing ({exc})",
                             "give a --store path in a writable folder") from None
        with closing(con):
            try:
                con.execute("PRAGMA synchronous=FULL")
                yield con
            except sqlite3.OperationalError as exc:
                raise StoreError(self.path, f"cannot be written ({exc})",
                                 "check the file and its folder are writable and the disk is not full") from None
            except sqlite3.DatabaseError as exc:
                raise StoreError(self.path, f"not a SQLite results store ({exc})",
                                 "give the results.sqlite a harness sweep wrote, or a new path") from None

    def initialise(self) -> "ResultStore":
        """Create (or check) the store for writing: folder, table, WAL, schema version. Idempotent."""
        if self._initialised:
            return self
        if not self.path.exists():
            self._create()
        with self._writer() as con:
            self._check(con, writing=True)
            if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                con.execute("PRAGMA journal_mode=WAL")
            con.execute("BEGIN IMMEDIATE")
            try:
                self._check(con, writing=True)
                con.execute(CREATE_TABLE)
                con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        self._initialised = True
        return self

    def _create(self) -> None:
        """Build a new store under a temporary name and link it into place: a reader (the dashboard, a
        test polling a running sweep) sees either no file or a complete store, never an empty one."""
        self._folder()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        try:
            with closing(sqlite3.connect(tmp, isolation_level=None)) as con:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute(CREATE_TABLE)
                con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            try:
                os.link(tmp, self.path)                       # never replaces a store another writer made first
            except FileExistsError:
                pass
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(self.path, f"cannot be created ({exc})", "give a --store path in a writable folder") \
                from None
        finally:
            for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
                leftover.unlink(missing_ok=True)

    def record(self, row: Mapping[str, Any] | TrialRow) -> None:
        """Insert a trial row, or replace a failed attempt; a done trial is never overwritten."""
        values = (row if isinstance(row, TrialRow) else TrialRow.from_mapping(row)).to_record()
        values["finished_at"] = values["finished_at"] or time.time()
        self.initialise()
        updates = ", ".join(f"{c}=excluded.{c}" for c in COLUMNS if c != "trial_id")
        sql = (f"INSERT INTO trials ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
               f"ON CONFLICT(trial_id) DO UPDATE SET {updates} WHERE trials.status != 'done'")
        with self._writer() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                changed = con.execute(sql, [values[c] for c in COLUMNS]).rowcount
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        if changed == 0:
            raise TrialAlreadyDone(self.path, f"trial {values['trial_id']} is already done; refusing to run it twice")
