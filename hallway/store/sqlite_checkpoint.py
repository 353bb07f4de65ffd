"""SQLite WAL checkpoints on a thread of their own, off the event loop.

In WAL mode a commit appends pages to the log, and by default the commit that takes the log
past 1,000 pages also copies them back into the database file and waits for the disk twice.
With commits running on the event loop, that wait stalled every request, and made a send's
commit several times dearer on average (docs/notes/performance.md). Here a thread
checkpoints in PASSIVE mode, which never blocks readers or writers, a few times a second
when something was written; sqlite3 releases the GIL while SQLite works, so the loop goes on.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)


class Checkpointer:
    # The connections' own threshold stays as a backstop, should this thread fall behind
    # (about 80 MB of log at SQLite's default 4 KiB pages).
    BACKSTOP_PAGES = 20_000

    def __init__(self, path: str, interval: float = 0.25) -> None:
        self.path = path
        self.interval = interval
        self.runs = 0
        self._writes = 0  # bumped by the loop's thread, read here: a hint, not a count
        self._seen = 0
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Something was committed. Cheap on purpose: it runs after every write."""
        self._writes += 1
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
            self._thread.start()

    def checkpoint(self) -> tuple[int, int]:
        """One PASSIVE checkpoint now: (frames in the log, frames of it now also in the
        database file). A reader of an older snapshot can keep the second one smaller."""
        connection = sqlite3.connect(self.path, check_same_thread=False)
        try:
            _busy, in_log, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            connection.close()
        self.runs += 1
        return int(in_log), int(copied)

    def _run(self) -> None:
        while not self._closed.wait(self.interval):
            if self._writes == self._seen:
                continue
            self._seen = self._writes
            try:
                self.checkpoint()
            except sqlite3.Error:
                # The backstop threshold still bounds the log; try again next time.
                log.exception("background checkpoint of %s failed", self.path)

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
