"""A case file's page, and its PDF printed by headless Chromium.

The page is one file with its styles inline and a Content-Security-Policy that lets it
load nothing, so it opens (and prints) offline. Its print styles set A4 pages and start
each section on a new page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sybilgraph.errors import OutputError
from sybilgraph.outputs import atomic_path
from sybilgraph.views.pages import template_env

__all__ = [
    "CHROMIUM_PATHS",
    "PDF_TIMEOUT_S",
    "chromium_for",
    "find_chromium",
    "print_pdf",
    "render_casefile",
]

#: where Chromium is looked for, before ``chromium`` on PATH; nothing is ever downloaded
CHROMIUM_PATHS = ("/usr/bin/chromium",)
#: a case file of a few pages prints in about 2 s; a stuck browser is stopped after this
PDF_TIMEOUT_S = 120


def render_casefile(facts: Mapping[str, Any]) -> str:
    """Render a case file's facts (see :func:`sybilgraph.investigate.casefile.casefile_facts`)
    as a self-contained HTML page; every text from the data is escaped."""
    return template_env().get_template("casefile.html.j2").render(**facts)


def find_chromium() -> str | None:
    """Chromium's executable: /usr/bin/chromium, else ``chromium`` on PATH, else None."""
    for path in CHROMIUM_PATHS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def chromium_for(pdf: str | os.PathLike[str]) -> str:
    """Chromium's executable, to print ``pdf`` with.

    Raises
    ------
    OutputError
        No Chromium is installed.
    """
    chromium = find_chromium()
    if chromium is None:
        raise OutputError(
            f"{pdf}: cannot print the PDF: no Chromium found (looked for "
            f"{', '.join(CHROMIUM_PATHS)} and chromium on PATH); install it, e.g. "
            "apt-get install chromium"
        )
    return chromium


def print_pdf(html: str | os.PathLike[str], pdf: str | os.PathLike[str]) -> Path:
    """Print the page ``html`` to ``pdf`` (A4, no header or footer), atomically.

    Raises
    ------
    OutputError
        No Chromium is installed, it failed or timed out, or wrote no PDF.
    """
    chromium = chromium_for(pdf)
    page = Path(html).resolve().as_uri()
    # a profile of its own, so that a browser the user has open does not take the job
    with (
        tempfile.TemporaryDirectory(prefix="sybilgraph-chromium-") as profile,
        atomic_path(pdf) as tmp,
    ):
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}",
            page,
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=PDF_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise OutputError(
                f"{pdf}: Chromium did not print the PDF within {PDF_TIMEOUT_S} s"
            ) from None
        except OSError as exc:
            raise OutputError(f"{pdf}: cannot start {chromium}: {exc.strerror}") from None
        if done.returncode != 0 or tmp.stat().st_size == 0:
            raise OutputError(f"{pdf}: Chromium failed to print the PDF (exit {done.returncode})")
        with tmp.open("rb") as handle:
            if handle.read(5) != b"%PDF-":
                raise OutputError(f"{pdf}: Chromium wrote something that is not a PDF")
    return Path(pdf)
