"""Stage timing, log lines and, on a terminal, a progress display."""

from __future__ import annotations

import logging
import sys
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
        self.show = sys.stderr.isatty() if show is None else show

    @contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        start = time.perf_counter()
        if self.show:
            from rich.console import Console

            console = Console(stderr=True)
            with console.status(f"{what}…"):
                yield
        else:
            log.info("%s…", what)
            yield
        elapsed = time.perf_counter() - start
        self.timings[name] = round(self.timings.get(name, 0.0) + elapsed, 3)
        log.info("%s done in %.1f s", name, elapsed)
