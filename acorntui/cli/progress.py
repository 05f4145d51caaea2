"""Progress on a terminal for the long commands (fetch, nightly)."""

from __future__ import annotations

import sys
import time

from acorntui.core.textsafe import visible_controls


class Ticker:
    """Progress on a terminal (stderr), at most ten updates a second."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.width = 0

    def show(self, text: str, force: bool = False) -> None:
        if not self.tty:
            return
        t = time.monotonic()
        if not force and t - self.last < 0.1:
            return
        self.last = t
        sys.stderr.write("\r" + text.ljust(self.width))
        sys.stderr.flush()
        self.width = len(text)

    def done(self) -> None:
        if self.tty and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
            self.width = 0

    def fetch(self, pull, event: str) -> None:
        done = len(pull.fetched)
        self.show(f"fetch {pull.name}: {done}/{pull.todo} files, {pull.bytes / 1e6:.1f} MB "
                  f"({pull.unchanged} unchanged)", force=event == "listed")

    def ingest_counter(self):
        n = [0]

        def progress(outcome) -> None:
            n[0] += 1
            self.show(f"parsed {n[0]} logs: "
                      f"{visible_controls(f'{outcome.customer}/{outcome.server}')}")
        return progress
