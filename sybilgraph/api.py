"""The face of the package for notebooks and scripts: run the pipeline, get a Result.

The investigator's objects sit above the pipeline: the pipeline writes a run's folder
and knows nothing of them; :func:`run` opens what it wrote.
"""

from __future__ import annotations

from pathlib import Path

from sybilgraph.config import Config
from sybilgraph.investigate.result import Result
from sybilgraph.pipeline import execute
from sybilgraph.stages.load import Window
from sybilgraph.stages.loading import Events, EventsInput

__all__ = ["run"]


def run(
    events: EventsInput | Events | None,
    config: Config | None = None,
    out_dir: str | Path | None = None,
    *,
    force: bool = False,
    show_progress: bool | None = None,
    window: Window | None = None,
) -> Result:
    """Run the pipeline, write its outputs folder and open it.

    Parameters
    ----------
    events
        Paths of CSV, Parquet or JSONL files or folders of them, a DataFrame, or the
        :class:`~sybilgraph.stages.loading.Events` of :func:`~sybilgraph.load_events`;
        None for a run on the config's other inputs alone (``[inputs]``: edges between
        accounts, account attributes, subjects).
    config
        Settings; defaults when omitted.
    out_dir
        Where the outputs go; a temporary folder of its own when omitted, deleted
        when the process ends, with the verdicts :meth:`Result.label` writes beside
        the run (:meth:`Result.save` keeps a copy). An existing folder must be empty or
        an earlier sybilgraph output, unless ``force``.
    force
        Write into a folder that holds other files (they are left alone; the run's own
        files are replaced).
    show_progress
        Progress lines on stderr; by default on a terminal only.
    window
        Only events in [start, end) are used; the others are counted in
        ``rows.outside_window`` of run.json (they are not rejects).

    Returns
    -------
    Result
        The run's tables, read from ``out_dir``.
    """
    out = execute(events, config, out_dir, force=force, show_progress=show_progress, window=window)
    return Result(out)
