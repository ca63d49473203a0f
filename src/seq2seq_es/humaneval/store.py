"""Ratings in SQLite: one transaction per submitted page, so a killed server loses nothing
submitted.

Why SQLite in WAL mode with ``synchronous=FULL``: a rating the annotator saw accepted must
survive ``kill -9`` (and a power cut); WAL lets the analysis read while the server writes;
and a study stays one folder that can be copied. Each call opens its own short-lived
connection, so the store is safe under the web server's thread pool without shared state.

Submissions carry the revision of the page they were made from (optimistic concurrency):
going back and changing a rating is allowed, but the same form posted twice (a double
click, a resent request) is refused as stale instead of silently counted twice. Every
accepted submission is also appended to a log, so a changed answer keeps its history.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DATABASE = "ratings.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS presentations (
    annotator TEXT NOT NULL,
    position INTEGER NOT NULL,
    item TEXT NOT NULL,
    revision INTEGER NOT NULL,
    seconds REAL,
    submitted_at TEXT NOT NULL,
    PRIMARY KEY (annotator, position)
);
CREATE TABLE IF NOT EXISTS scores (
    annotator TEXT NOT NULL,
    position INTEGER NOT NULL,
    system TEXT NOT NULL,
    criterion TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (annotator, position, system, criterion)
);
CREATE TABLE IF NOT EXISTS preferences (
    annotator TEXT NOT NULL,
    position INTEGER NOT NULL,
    choice TEXT NOT NULL,
    PRIMARY KEY (annotator, position)
);
CREATE TABLE IF NOT EXISTS submission_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    annotator TEXT NOT NULL,
    position INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    answers TEXT NOT NULL,
    submitted_at TEXT NOT NULL
);
"""

TIE = "tie"


class StaleSubmission(Exception):
    """The form was made from an older revision of the page (double submission or another tab)."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"submitted from revision {expected}, the page is at revision {current}")
        self.expected = expected
        self.current = current


@dataclass(frozen=True)
class Answers:
    """One annotator's answers on one page: a score per (system, criterion), maybe a preference."""

    scores: dict[tuple[str, str], int]
    preference: str | None = None  # a system name or TIE


@dataclass(frozen=True)
class StoredPage:
    annotator: str
    position: int
    item: str
    revision: int
    seconds: float | None
    submitted_at: str
    answers: Answers = field(default_factory=lambda: Answers({}))


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


@contextlib.contextmanager
def _connection(path: Path) -> Iterator[sqlite3.Connection]:
    connection = _connect(path)
    try:
        yield connection
    finally:
        connection.close()


def init_store(path: str | Path) -> Path:
    """Create the database with its tables (WAL mode is recorded in the file)."""
    path = Path(path)
    with _connection(path) as connection:
        connection.executescript(SCHEMA)
    return path


class RatingStore:
    """Read and write one study's ratings; every method is one short transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(self.path)

    def revision(self, annotator: str, position: int) -> int:
        """0 for a page never submitted, else how many times it was accepted."""
        with _connection(self.path) as connection:
            row = connection.execute(
                "SELECT revision FROM presentations WHERE annotator=? AND position=?",
                (annotator, position),
            ).fetchone()
        return int(row[0]) if row else 0

    def rated_positions(self, annotator: str) -> set[int]:
        with _connection(self.path) as connection:
            rows = connection.execute(
                "SELECT position FROM presentations WHERE annotator=?", (annotator,)
            )
            return {int(r[0]) for r in rows}

    def page(self, annotator: str, position: int) -> StoredPage | None:
        """This annotator's current answers on one page (None when not yet rated)."""
        pages = self.pages(annotator, position)
        return pages[0] if pages else None

    def pages(self, annotator: str | None = None, position: int | None = None) -> list[StoredPage]:
        """Current answers, filtered by annotator and position (the analysis reads them all)."""
        where: list[str] = []
        args: list[str | int] = []
        if annotator is not None:
            where.append("annotator=?")
            args.append(annotator)
        if position is not None:
            where.append("position=?")
            args.append(position)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with _connection(self.path) as connection:
            connection.execute("BEGIN")  # one snapshot for the three tables
            heads = connection.execute(
                "SELECT annotator, position, item, revision, seconds, submitted_at "
                f"FROM presentations{clause} ORDER BY annotator, position",
                args,
            ).fetchall()
            scores = connection.execute(
                f"SELECT annotator, position, system, criterion, value FROM scores{clause}", args
            ).fetchall()
            prefs = connection.execute(
                f"SELECT annotator, position, choice FROM preferences{clause}", args
            ).fetchall()
            connection.execute("COMMIT")
        by_page: dict[tuple[str, int], dict[tuple[str, str], int]] = {}
        for who, pos, system, criterion, value in scores:
            by_page.setdefault((who, pos), {})[(system, criterion)] = int(value)
        choice = {(who, pos): c for who, pos, c in prefs}
        return [
            StoredPage(
                who,
                pos,
                item,
                rev,
                secs,
                at,
                Answers(by_page.get((who, pos), {}), choice.get((who, pos))),
            )
            for who, pos, item, rev, secs, at in heads
        ]

    def submit(
        self,
        annotator: str,
        position: int,
        item: str,
        from_revision: int,
        answers: Answers,
        seconds: float | None = None,
    ) -> int:
        """Store one page's answers atomically; return the new revision.

        Raises ``StaleSubmission`` when ``from_revision`` is not the page's current revision.
        """
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        log = json.dumps(
            {
                "scores": [[s, c, v] for (s, c), v in sorted(answers.scores.items())],
                "preference": answers.preference,
                "item": item,
            },
            ensure_ascii=False,
        )
        with _connection(self.path) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                row = connection.execute(
                    "SELECT revision FROM presentations WHERE annotator=? AND position=?",
                    (annotator, position),
                ).fetchone()
                current = int(row[0]) if row else 0
                if current != from_revision:
                    raise StaleSubmission(from_revision, current)
                revision = current + 1
                connection.execute(
                    "INSERT INTO presentations (annotator, position, item, revision, seconds, "
                    "submitted_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (annotator, position) DO "
                    "UPDATE SET revision=excluded.revision, seconds=excluded.seconds, "
                    "submitted_at=excluded.submitted_at",
                    (annotator, position, item, revision, seconds, now),
                )
                connection.execute(
                    "DELETE FROM scores WHERE annotator=? AND position=?", (annotator, position)
                )
                connection.executemany(
                    "INSERT INTO scores (annotator, position, system, criterion, value) VALUES (?, "
                    "?, ?, ?, ?)",
                    [
                        (annotator, position, s, c, v)
                        for (s, c), v in sorted(answers.scores.items())
                    ],
                )
                connection.execute(
                    "DELETE FROM preferences WHERE annotator=? AND position=?",
                    (annotator, position),
                )
                if answers.preference is not None:
                    connection.execute(
                        "INSERT INTO preferences (annotator, position, choice) VALUES (?, ?, ?)",
                        (annotator, position, answers.preference),
                    )
                connection.execute(
                    "INSERT INTO submission_log (annotator, position, revision, answers, "
                    "submitted_at) VALUES (?, ?, ?, ?, ?)",
                    (annotator, position, revision, log, now),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return revision
