"""Writing a run's outputs: atomically, into a folder that is safe to write.

A run is built in a hidden staging folder beside its outputs folder and moved in when
complete (:func:`install_run`): the previous run's files are set aside (its run.json
first), the new ones moved in (run.json last), and the set-aside ones deleted. A
failure on the way moves everything back; a process killed on the way leaves a folder
without run.json, which readers refuse, and the next run into it finishes the move
(:func:`clean_leftovers`). So a folder with a run.json from run N holds run N's files,
and the user's own files in it are never touched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from sybilgraph.errors import OutputError

__all__ = [
    "MARKER",
    "TEMPORARY_PREFIX",
    "atomic_path",
    "clean_leftovers",
    "install_run",
    "is_stale",
    "is_temporary_run",
    "make_staging",
    "path_argument",
    "prepare_out_dir",
    "remove_stale_folders",
    "run_files",
    "spreadsheet_safe",
    "text_of_cells",
    "write_csv",
    "write_json",
]

log = logging.getLogger(__name__)

#: the file that marks a folder as a sybilgraph output (and so safe to overwrite)
MARKER = "run.json"
#: the tables a run writes beside run.json: how the files of a run made before run.json
#: listed them are known (with the pages in clusters/, by their names)
RUN_TABLES = (
    "accounts.csv",
    "clusters.csv",
    "hubs.csv",
    "index.html",
    "links.parquet",
    "prompts.parquet",
    "rejects.csv",
    "values.parquet",
)
PAGE_NAME = re.compile(r"C[0-9a-f]{10}\.(html|gexf|graphml)")
#: inside a staging folder: the previous run's files while the new run moves in
SET_ASIDE = ".previous"
#: a leftover whose process is unknown is taken as abandoned after this long; runs
#: record their process id, and a leftover of a process that is gone is abandoned
STALE_AFTER_S = 3600


def path_argument(value: object, what: str, thing: str = "file") -> Path:
    """A path a caller gave for a ``thing`` to write; a value that is no path (None, a
    number, an empty text) is refused, as it failed with Python's own errors.

    Raises
    ------
    OutputError
        ``value`` is not a non-empty text or path.
    """
    if not isinstance(value, str | os.PathLike) or str(value) == "":
        raise OutputError(f"{what}: expected the path of a {thing} to write, not {value!r}")
    return Path(value)


def prepare_out_dir(out_dir: str | Path, *, force: bool = False) -> Path:
    """Create ``out_dir``, or check that overwriting it is safe.

    A folder that exists is accepted when it is empty, when it holds a previous
    sybilgraph output (a ``run.json`` written by sybilgraph), or when ``force`` is set.
    Leftovers of runs into it that were killed are cleaned up first (see
    :func:`clean_leftovers`).

    Raises
    ------
    OutputError
        ``out_dir`` is a file, a foreign non-empty folder (without ``force``), or a
        folder that cannot be created or written into.
    """
    path = Path(out_dir)
    try:
        path.resolve()
    except RuntimeError:  # Python 3.11's pathlib: "Symlink loop from ..."
        raise OutputError(f"{path}: a symbolic link that points back to itself") from None
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    clean_leftovers(path)
    if path.is_dir() and any(path.iterdir()) and not force and not _is_previous_output(path):
        raise OutputError(
            f"{path}: folder is not empty and holds no earlier sybilgraph output; "
            "choose another folder or pass --force"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output folder: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write into the output folder: permission denied")
    return path


def _is_previous_output(path: Path) -> bool:
    return _run_info(path / MARKER) is not None


def _run_info(marker: Path) -> dict[str, Any] | None:
    """A run.json written by sybilgraph, or None."""
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == "sybilgraph" else None


# -- staging and moving a run into place ---------------------------------------------


def _staging_prefix(out: Path) -> tuple[Path, str]:
    # beside the real folder: a symlinked --out on another file system is moved into
    # with renames, which cannot cross file systems
    real = out.resolve()
    return real.parent, f".{real.name}.partial-"


def make_staging(out: Path) -> Path:
    """A new hidden folder beside ``out`` to build a run in: ``.NAME.partial-PID-XXXX``."""
    parent, prefix = _staging_prefix(out)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def run_files(folder: Path) -> list[str]:
    """The files under ``folder``, as sorted relative POSIX paths."""
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if rel.parts[0] != SET_ASIDE and (path.is_file() or path.is_symlink()):
            found.append(rel.as_posix())
    return sorted(found)


def _previous_files(out: Path, marker: Path) -> list[str]:
    """The files of the run whose run.json is ``marker``, relative to ``out``; none
    when ``marker`` is not sybilgraph's (a foreign folder given ``--force``)."""
    info = _run_info(marker)
    if info is None:
        return []
    listed = info.get("files")
    if isinstance(listed, list):
        return sorted({f for f in listed if _inside(f)} | {MARKER})
    pages = out / "clusters"
    found = sorted(pages.iterdir()) if pages.is_dir() else []
    names = [f"clusters/{p.name}" for p in found if PAGE_NAME.fullmatch(p.name)]
    return sorted([MARKER, *RUN_TABLES, *names])


def _inside(name: object) -> bool:
    """Whether a listed file name stays inside the folder (run.json may be edited)."""
    if not isinstance(name, str) or not name or "\\" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def install_run(staging: Path, out: Path) -> None:
    """Move the finished run in ``staging`` into ``out``, replacing the previous run.

    Only the run's own files are replaced: those of the new run, and those the previous
    run's run.json lists (or, for a run older than that list, its tables and its pages
    by name); anything else in ``out`` stays. ``staging`` is removed on success, and on
    a failure that could be undone.

    Raises
    ------
    OutputError
        A file or folder is in the way, a folder cannot be written, or a move failed;
        ``out`` then holds the previous run as it was.
    """
    aside = staging / SET_ASIDE
    try:
        _check_replaceable(out, run_files(staging), _previous_files(out, out / MARKER))
        aside.mkdir()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    done: list[tuple[Path, Path]] = []
    made: list[Path] = []
    try:
        _swap(staging, out, done, made)
    except BaseException as exc:
        undone = _undo(done, made)
        if undone:
            # the set-aside folder first: a staging folder holding one is a move to
            # finish, and this one was undone
            shutil.rmtree(aside, ignore_errors=True)
            shutil.rmtree(staging, ignore_errors=True)
        else:
            log.error("%s: left incomplete; the next run into it finishes it", out)
        if isinstance(exc, OSError):
            state = "holds the previous run as it was" if undone else "is incomplete"
            raise OutputError(
                f"{out}: cannot move the run into place: {exc.strerror or exc} "
                f"({exc.filename}); the folder {state}"
            ) from None
        raise
    shutil.rmtree(staging, ignore_errors=True)


def _check_replaceable(out: Path, new: list[str], old: list[str]) -> None:
    """Refuse before moving anything when a new file could not take its place."""
    folders = {out}
    for rel in new:
        target = out / rel
        for parent in list(reversed(target.relative_to(out).parents))[1:]:
            folder = out / parent
            if folder.exists() and not folder.is_dir():
                raise OutputError(f"{folder}: is in the way of the run's {rel}; not a folder")
            folders.add(folder)
        if target.is_dir() and not target.is_symlink():
            raise OutputError(f"{target}: a folder is in the way of the run's file")
    for rel in old:
        folders.add((out / rel).parent)
    for folder in sorted(folders):
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"{folder}: cannot replace the run's files there: permission denied")


def _swap(staging: Path, out: Path, done: list[tuple[Path, Path]], made: list[Path]) -> None:
    """Set the previous run's files aside (run.json first), then move the new run's in
    (run.json last). Also finishes a swap a killed process began: files it already
    moved are where they belong and are left."""
    aside = staging / SET_ASIDE
    remaining = run_files(staging)
    info = _run_info(staging / MARKER) or {}
    listed = info.get("files")
    moved_in = (
        {f for f in listed if isinstance(f, str)} - set(remaining)
        if isinstance(listed, list)
        else set()
    )
    marker = aside / MARKER if (aside / MARKER).exists() else out / MARKER
    old = _previous_files(out, marker)
    for rel in sorted(set(old) | set(remaining), key=lambda r: (r != MARKER, r)):
        target = out / rel
        if rel not in moved_in and (target.is_file() or target.is_symlink()):
            _move(target, aside / rel, done, made)
    for rel in sorted(remaining, key=lambda r: (r == MARKER, r)):
        _move(staging / rel, out / rel, done, made)


def _move(source: Path, target: Path, done: list[tuple[Path, Path]], made: list[Path]) -> None:
    for folder in reversed(target.parents):
        if not folder.exists():
            folder.mkdir()
            made.append(folder)
    os.replace(source, target)
    done.append((source, target))


def _undo(done: list[tuple[Path, Path]], made: list[Path]) -> bool:
    """Move everything back, last move first; False if that failed too."""
    try:
        for source, target in reversed(done):
            os.replace(target, source)
    except OSError as exc:
        log.error("cannot move %s back: %s", exc.filename, exc.strerror)
        return False
    for folder in reversed(made):
        with contextlib.suppress(OSError):  # not empty: it holds files not the run's
            folder.rmdir()
    return True


def is_stale(path: Path, pid: int | None) -> bool:
    """Whether a leftover is abandoned: its process is gone, or (process unknown) it has
    not changed for :data:`STALE_AFTER_S` seconds."""
    if pid is not None:
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another user's
        return False
    try:
        return time.time() - path.lstat().st_mtime > STALE_AFTER_S
    except FileNotFoundError:
        return False


def clean_leftovers(out: Path) -> None:
    """Clean up after runs into ``out`` that were killed.

    A staging folder of a run killed while moving into ``out`` holds the rest of a
    complete run: the move is finished, so ``out`` holds that run. Any other abandoned
    staging folder (see :func:`is_stale`) is deleted.
    """
    parent, prefix = _staging_prefix(out)
    if not parent.is_dir():
        return
    for entry in sorted(parent.iterdir()):
        if not entry.name.startswith(prefix) or not entry.is_dir():
            continue
        owner = re.match(r"(\d+)-", entry.name[len(prefix) :])
        if not is_stale(entry, int(owner.group(1)) if owner else None):
            continue
        if (entry / SET_ASIDE).is_dir() and (entry / MARKER).is_file():
            try:
                _swap(entry, out.resolve(), [], [])
            except OSError as exc:
                log.warning("%s: cannot finish an interrupted run: %s", entry, exc)
                continue
            log.warning("%s: finished moving in a run that was interrupted", out)
        shutil.rmtree(entry, ignore_errors=True)


def missing(*folders: str | os.PathLike[str]) -> list[Path]:
    """The folders that do not exist (yet) of ``folders`` and of the folders above them,
    deepest first: those that making ``folders`` would make."""
    made: set[Path] = set()
    for folder in folders:
        path = Path(folder).absolute()
        while not path.exists() and path != path.parent:
            made.add(path)
            path = path.parent
    return sorted(made, key=lambda p: (-len(p.parts), str(p)))


@contextmanager
def removed_on_failure(made: Iterable[Path]) -> Iterator[None]:
    """Remove the folders ``made`` (by the caller, for the block; deepest first) if the
    block fails and leaves them empty: a failed run or report leaves no empty folder of
    its own behind, and a folder that was there before stays."""
    try:
        yield
    except BaseException:
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


#: the folders of runs given no outputs folder: ``sybilgraph-run-PID-XXXX`` in the
#: system's temporary folder, each holding ``run/`` and the labels written beside it,
#: deleted when the process ends
TEMPORARY_PREFIX = "sybilgraph-run-"


def remove_stale_folders(prefix: str, what: str) -> None:
    """Delete the folders ``PREFIX PID-...`` in the system's temporary folder whose
    process is gone (killed outright, SIGKILL or out of memory: nothing else removes
    them), logging each as ``what``."""
    for entry in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        owner = re.match(r"(\d+)-", entry.name[len(prefix) :])
        if owner and entry.is_dir() and is_stale(entry, int(owner.group(1))):
            log.info("deleting %s of a process that was killed: %s", what, entry)
            shutil.rmtree(entry, ignore_errors=True)


def is_temporary_run(folder: Path) -> bool:
    """Whether ``folder`` is the run of a process given no outputs folder."""
    holder = folder.resolve().parent
    return (
        holder.name.startswith(TEMPORARY_PREFIX)
        and holder.parent == Path(tempfile.gettempdir()).resolve()
    )


#: the mode of a file written anew: its owner alone reads it (a run's files hold
#: account ids, IP addresses and prompts)
NEW_FILE_MODE = 0o600


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success only.

    The file gets the mode of the file it replaces (a labels file the team shares stays
    shared), or :data:`NEW_FILE_MODE` when there was none, whoever wrote the temporary
    file (DuckDB writes its own with the umask's mode).
    """
    target = Path(path)
    if target.is_symlink():
        # the file it points to is replaced and the link kept (a labels file the team
        # shares through a link stays shared); replaced itself, a link to a device
        # (/dev/stdout) became a file in its place
        target = target.resolve()
    if target.exists() and not target.is_file():
        raise OutputError(f"{path}: not a regular file; name a file to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mode = NEW_FILE_MODE
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str | Iterable[str]) -> Path:
    """Write ``text`` (or its pieces, in order) as UTF-8 to ``path``, atomically."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        if isinstance(text, str):
            handle.write(text)
        else:
            handle.writelines(text)
    return Path(path)


#: how a spreadsheet knows a cell for a formula: it starts with one of these. A text
#: cell of an output CSV that does is written with a ``'`` before it, which spreadsheets
#: take as "this is text" (account ids, user agents and rejected rows are whatever the
#: sender wrote: ``=HYPERLINK(...)`` opened in a spreadsheet would be a live link)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: a ``'`` before one of these was put there on writing (so that the mark is undone
#: exactly: a text that itself starts with ``'=`` or ``''`` gets one more ``'``)
_MARKED = (*FORMULA_STARTS, "'")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text that a spreadsheet would read as a formula marked as
    text by a leading ``'`` (see ``FORMULA_STARTS``); other cells, numbers and frames
    with nothing to mark are returned as they are. :func:`text_of_cells` undoes it."""

    def mark(texts: pd.Series, first: pd.Series, second: pd.Series) -> pd.Series | None:
        needs = first.isin(FORMULA_STARTS) | ((first == "'") & second.isin(_MARKED))
        return texts.mask(needs, "'" + texts.where(needs, "")) if needs.any() else None

    return _each_text_column(frame, mark)


def text_of_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`spreadsheet_safe` on a table read from a CSV it wrote: a cell that
    starts with ``'`` and then one of ``FORMULA_STARTS`` or ``'`` loses the ``'``."""

    def unmark(texts: pd.Series, first: pd.Series, second: pd.Series) -> pd.Series | None:
        marked = (first == "'") & second.isin(_MARKED)
        return texts.mask(marked, texts.where(marked, "").str[1:]) if marked.any() else None

    return _each_text_column(frame, unmark)


def _each_text_column(
    frame: pd.DataFrame,
    change: Callable[[pd.Series, pd.Series, pd.Series], pd.Series | None],
) -> pd.DataFrame:
    """``frame`` with ``change(texts, first characters, second characters)`` made to
    each column of texts where it returns a column (a copy only when one does)."""
    changed = frame
    for position in range(frame.shape[1]):
        texts = frame.iloc[:, position]
        starts = _starts(texts)
        new = None if starts is None else change(texts, *starts)
        if new is not None:
            if changed is frame:
                changed = frame.copy()
            changed.isetitem(position, new.array)
    return changed


def _starts(column: pd.Series) -> tuple[pd.Series, pd.Series] | None:
    """The first and second characters of a column of texts (missing where a cell is
    not text); None for a column of numbers, flags or times."""
    if not (pd.api.types.is_string_dtype(column) or column.dtype == object):
        return None
    try:
        return column.str[:1], column.str[1:2]
    except AttributeError:  # objects, none of them text
        return None


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as UTF-8 CSV (RFC 4180 line ends), atomically, its texts safe to
    open in a spreadsheet (:func:`spreadsheet_safe`)."""
    with atomic_path(path) as tmp:
        # with "\n" line ends the writer leaves a lone "\r" in a value unquoted, and a
        # reader then splits the row; "\r\n" makes it quote every value holding either
        spreadsheet_safe(frame).to_csv(tmp, index=False, lineterminator="\r\n")
    return Path(path)


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON (sorted keys, indented), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
    return Path(path)
