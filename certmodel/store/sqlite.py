"""A resumable results store on stdlib :mod:`sqlite3`.

One table ``records`` holds every certificate record, keyed by
``sha256(base configuration hash | test point | budget)`` (:func:`record_key`), next to the
configuration hash, the package version, the true label of the test point (for certified
accuracy) and the record itself as JSON.  ``configs`` keeps each configuration as JSON.
``computations`` counts what every task computed and how much of it was new, so a resumed
sweep can prove that it computed nothing twice.

Writes are transactional (WAL journal, one transaction per task): a process killed at any
moment leaves every task either fully stored or absent, and a re-run skips what is stored —
except records of failed tasks (``solver_status`` ``"error"`` or ``"timeout"``: a crash, an
exception, a worker past its task time-out), which a re-run computes again and replaces, and,
on request (``rerun_unknown``), every ``unknown`` record (e.g. again with a larger time limit).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from certmodel.exceptions import InvalidParameterError
from certmodel.results import CertificateRecord, CollectiveRecord

__all__ = ["ResultStore", "StoredRecord", "record_key", "COLLECTIVE_INDEX", "RETRIED_STATUSES"]

RETRIED_STATUSES = ("error", "timeout")
"""``solver_status`` of records from failed tasks: not final, computed again on resume."""

COLLECTIVE_INDEX = -1
"""``test_index`` under which a collective record (one per budget) is stored."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS configs (
    config_hash TEXT PRIMARY KEY,
    config_json TEXT NOT NULL,
    version     TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    key         TEXT PRIMARY KEY,
    config_hash TEXT NOT NULL REFERENCES configs(config_hash),
    test_index  INTEGER NOT NULL,
    budget      INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    verdict     TEXT,
    y_true      INTEGER,
    record_json TEXT NOT NULL,
    version     TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_config ON records(config_hash);
CREATE TABLE IF NOT EXISTS computations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    n_computed  INTEGER NOT NULL,
    n_new       INTEGER NOT NULL,
    error       TEXT,
    created_at  REAL NOT NULL
);
"""


def record_key(config_hash: str, test_index: int, budget: int) -> str:
    """Primary key of one record: sha256 of ``config_hash|test_index|budget``."""
    text = f"{config_hash}|{int(test_index)}|{int(budget)}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class StoredRecord:
    """One row of the store: the record, its configuration hash and the true label."""

    config_hash: str
    record: CertificateRecord | CollectiveRecord
    y_true: int | None
    version: str


def _record_from_json(text: str) -> CertificateRecord | CollectiveRecord:
    d = json.loads(text)
    cls = CollectiveRecord if d.get("kind") == "collective" else CertificateRecord
    return cls.from_dict(d)


def _is_final(rec: CertificateRecord | CollectiveRecord, rerun_unknown: bool) -> bool:
    """Whether a stored record is kept as it is (see :meth:`ResultStore.stored_keys`)."""
    if rec.solver_status in RETRIED_STATUSES:
        return False
    if not rerun_unknown:
        return True
    if isinstance(rec, CollectiveRecord):
        return rec.exact or rec.certified_count == rec.n_test
    return rec.verdict.value != "unknown"


class ResultStore:
    """A results store in one SQLite file (created if absent).

    Parameters
    ----------
    path : str or Path
        The database file. ``":memory:"`` gives a private in-memory store (tests).
    timeout : float
        Seconds to wait for a lock held by another process.
    """

    def __init__(self, path: str | Path, *, timeout: float = 60.0):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            self._conn.close()
            raise InvalidParameterError(
                f"store {self.path}: not an SQLite results store ({e})") from None

    # -- context manager ----------------------------------------------------------------------
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------
    def register_config(self, config_hash: str, config: dict, version: str) -> None:
        """Remember a configuration (idempotent)."""
        self._conn.execute(
            "INSERT OR IGNORE INTO configs VALUES (?, ?, ?, ?)",
            (config_hash, json.dumps(config, sort_keys=True), version, time.time()))

    def write_task(self, config_hash: str, run_id: str, version: str,
                   rows: Iterable[tuple[CertificateRecord | CollectiveRecord, int | None]],
                   *, error: str | None = None, replace_unknown: bool = False) -> int:
        """Store one task's records in one transaction; returns how many were new.

        ``rows`` are ``(record, y_true)`` pairs; collective records are stored under
        ``test_index = -1``.  A record already stored is kept unless it is not final (a failed
        task's record, or — when ``replace_unknown`` — an ``unknown`` one): those are replaced.
        The task is logged in ``computations`` with its counts.
        """
        rows = list(rows)
        now = time.time()
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            n_new = 0
            for rec, y_true in rows:
                if isinstance(rec, CollectiveRecord):
                    index, kind, verdict = COLLECTIVE_INDEX, "collective", None
                else:
                    index, kind, verdict = rec.test_index, "samplewise", rec.verdict.value
                key = record_key(config_hash, index, rec.budget)
                old = cur.execute("SELECT record_json FROM records WHERE key = ?",
                                  (key,)).fetchone()
                if old is not None:
                    if _is_final(_record_from_json(old[0]), replace_unknown):
                        continue
                    cur.execute("DELETE FROM records WHERE key = ?", (key,))
                cur.execute(
                    "INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (key, config_hash, int(index), int(rec.budget), kind, verdict,
                     None if y_true is None else int(y_true), json.dumps(rec.to_dict()),
                     version, run_id, now))
                n_new += 1
            cur.execute(
                "INSERT INTO computations (run_id, config_hash, n_computed, n_new, error, "
                "created_at) VALUES (?,?,?,?,?,?)",
                (run_id, config_hash, len(rows), n_new, error, now))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return n_new

    # -- reading ------------------------------------------------------------------------------
    def stored_keys(self, config_hash: str, *, rerun_unknown: bool = False,
                    ) -> set[tuple[int, int]]:
        """``(test_index, budget)`` pairs stored *final* for a configuration (not computed again).

        Not final: records of failed tasks (``solver_status`` in :data:`RETRIED_STATUSES`)
        and, with ``rerun_unknown``, ``unknown`` records (collective: not proven exact).
        """
        cur = self._conn.execute(
            "SELECT test_index, budget, record_json FROM records WHERE config_hash = ?",
            (config_hash,))
        return {(int(t), int(b)) for t, b, text in cur
                if _is_final(_record_from_json(text), rerun_unknown)}

    def records(self, config_hash: str | None = None) -> Iterator[StoredRecord]:
        """Stored records (of one configuration or all), by configuration, point, budget."""
        sql = "SELECT config_hash, record_json, y_true, version FROM records"
        args: tuple = ()
        if config_hash is not None:
            sql += " WHERE config_hash = ?"
            args = (config_hash,)
        sql += " ORDER BY config_hash, test_index, budget"
        for h, text, y_true, version in self._conn.execute(sql, args):
            yield StoredRecord(h, _record_from_json(text), y_true, version)

    def configs(self) -> dict[str, dict]:
        """Every stored configuration: hash -> configuration dict."""
        cur = self._conn.execute("SELECT config_hash, config_json FROM configs ORDER BY created_at")
        return {h: json.loads(text) for h, text in cur}

    def computations(self, config_hash: str | None = None) -> tuple[int, int]:
        """Totals ``(n_computed, n_new)`` over every logged task."""
        sql = "SELECT COALESCE(SUM(n_computed), 0), COALESCE(SUM(n_new), 0) FROM computations"
        args: tuple = ()
        if config_hash is not None:
            sql += " WHERE config_hash = ?"
            args = (config_hash,)
        n_computed, n_new = self._conn.execute(sql, args).fetchone()
        return int(n_computed), int(n_new)

    def count(self, config_hash: str | None = None) -> int:
        """Number of stored records."""
        if config_hash is None:
            return int(self._conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
        return int(self._conn.execute("SELECT COUNT(*) FROM records WHERE config_hash = ?",
                                      (config_hash,)).fetchone()[0])
