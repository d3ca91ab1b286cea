"""Stage timing, log lines and, on a terminal, a progress display."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["StageTimer", "setup_logging"]

log = logging.getLogger("sybilgraph")


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Log lines on stderr: ``sybilgraph: message``; rich formatting on a terminal."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger("sybilgraph")
    root.handlers.clear()
    root.setLevel(level)
    root.propagate = False
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, show_level=False)
        handler.setFormatter(logging.Formatter("%(message)s", datefmt="%H:%M:%S"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s sybilgraph: %(message)s", datefmt="%H:%M:%S")
        )
    root.addHandler(handler)


class StageTimer:
    """Times each stage; shows a spinner on a terminal and logs a line per stage."""

    def __init__(self, show: bool | None = None) -> None:
        self.timings: dict[str, float] = {}
        #: the largest resident memory of this process seen during each stage, in MB
        #: (sampled 4 times a second; Linux only, empty elsewhere)
        self.peak_mb: dict[str, int] = {}
        self.show = sys.stderr.isatty() if show is None else show

    @contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        start = time.perf_counter()
        sampler = _PeakSampler()
        try:
            if self.show:
                from rich.console import Console

                console = Console(stderr=True)
                with console.status(f"{what}…"):
                    yield
            else:
                log.info("%s…", what)
                yield
        finally:
            peak = sampler.stop()
        elapsed = time.perf_counter() - start
        self.timings[name] = round(self.timings.get(name, 0.0) + elapsed, 3)
        if peak is not None:
            self.peak_mb[name] = max(self.peak_mb.get(name, 0), peak >> 20)
        log.info("%s done in %.1f s", name, elapsed)


def _rss() -> int | None:
    """This process's resident memory in bytes, or None where /proc is missing."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class _PeakSampler:
    """Samples the resident memory in a background thread until stopped."""

    def __init__(self, interval: float = 0.25) -> None:
        self.peak = _rss()
        self._done = threading.Event()
        self._interval = interval
        self._thread: threading.Thread | None = None
        if self.peak is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(self._interval):
            rss = _rss()
            if rss is not None and (self.peak is None or rss > self.peak):
                self.peak = rss

    def stop(self) -> int | None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        rss = _rss()
        if rss is not None and (self.peak is None or rss > self.peak):
            self.peak = rss
        return self.peak
