"""The command line: each command parses its options and calls one library function.

Exit codes: 0 success; 1 internal error (a bug: run again with --debug and report the
traceback); 2 bad input, config or usage; 3 a memory or disk limit was reached; 130
interrupted (Ctrl-C, SIGINT); 143 stopped by SIGTERM.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from sybilgraph.errors import OutputError, SybilgraphError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERNAL = 1

log = logging.getLogger("sybilgraph")


@functools.cache
def _terminal() -> dict[int, int]:
    """Control characters as a terminal must not get them from the data (an account id
    holding ESC [ 2 J clears the screen): C0 but tab and line feed, and DEL, as their
    pictures; C1 (CSI is one) and the marks that reorder text as U+FFFD. Imported when
    first needed: the views' module brings pandas, which ``sybilgraph --help`` does
    without."""
    from sybilgraph.views.cells import control_pictures

    c1 = {c: 0xFFFD for c in range(0x80, 0xA0)}
    return {**control_pictures(keep="\t\n"), **c1, **{c: 0xFFFD for c in _BIDI_CONTROLS}}


#: the marks that reorder the text after them (U+202E shows "txt.exe" as "exe.txt"):
#: an id holding one would print as another
_BIDI_CONTROLS = (0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))


def _echo(text: str, *, err: bool = False) -> None:
    """Print a text that may hold the data's strings, their control characters shown."""
    click.echo(text.translate(_terminal()), err=err)


def _fail(message: str, code: int) -> None:
    """Print ``message`` as one line and exit with ``code``.

    A line break in the message (a file or column named with one) is shown as its
    picture: cut at the first break, the error of a file named "bad", a break and
    "name.csv" said only "bad"."""
    text = (message.strip() or "unknown error").translate(_LINE_BREAKS)
    _echo(f"sybilgraph: error: {text}", err=True)
    sys.exit(code)


#: line breaks as their pictures, for a message printed as one line
_LINE_BREAKS = {0x0A: 0x2424, 0x0D: 0x240D}


#: signals that stop a command as Ctrl-C does, with their exit codes (128 + the number)
_STOPPING = {signal.SIGINT: ("interrupted", 130), signal.SIGTERM: ("terminated (SIGTERM)", 143)}


class _Stopped:
    """The signal that stopped the command, if one did.

    SIGTERM (what a scheduler or service manager sends to stop a job) would end the
    process at once, leaving DuckDB's spill folder (gigabytes at 30M events) and the
    run's hidden working folder behind; raised as Ctrl-C is, the run cleans up on its
    way out. A signal that arrives inside a DuckDB statement comes out of it as
    DuckDB's own "Query interrupted" error: the signal recorded here says what it was.
    """

    signum: int | None = None

    @classmethod
    def handler(cls, signum: int, frame: object) -> None:
        cls.signum = signum
        raise KeyboardInterrupt

    @classmethod
    @contextlib.contextmanager
    def caught(cls) -> Iterator[None]:
        """The stopping signals handled while the command runs, as they were after."""
        cls.signum = None
        before = {}
        try:
            for signum in _STOPPING:
                before[signum] = signal.signal(signum, cls.handler)
        except ValueError:  # not the main thread (a caller's thread): left alone
            pass
        try:
            yield
        finally:
            for signum, handler in before.items():
                signal.signal(signum, handler)


def handle_errors(func: F) -> F:
    """Turn the library's errors into one line on stderr and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(click.get_current_context().find_root().params.get("debug"))
        try:
            with _Stopped.caught():
                return func(*args, **kwargs)
        except (KeyboardInterrupt, Exception) as exc:
            if isinstance(exc, KeyboardInterrupt) or _Stopped.signum is not None:
                # a signal, however it surfaced (inside DuckDB: "Query interrupted")
                _fail(*_STOPPING[signal.Signals(_Stopped.signum or signal.SIGINT)])
            if debug:
                traceback.print_exc()
            if isinstance(exc, SybilgraphError):
                _fail(str(exc), exc.exit_code)
            if isinstance(exc, click.ClickException):  # raised once the options were read
                _fail(exc.format_message(), exc.exit_code)
            if isinstance(exc, MemoryError):
                _fail("out of memory; set engine.memory_limit lower or use a bigger machine", 3)
            if isinstance(exc, OSError) and exc.filename is not None:
                # a path the system refused (a folder under a file, no permission): the
                # user's to change, named; not a bug
                named = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else exc.filename
                _fail(f"{named}: {exc.strerror or exc}", 2)
            # a bug: one line, traceback only with --debug
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _fail(
                f"internal error: {type(exc).__name__}: {first} (rerun with --debug for the "
                "traceback)",
                EXIT_INTERNAL,
            )

    return wrapper  # type: ignore[return-value]


def _config(
    path: str | None, seed: int | None, labels: str | None = None, engine: str | None = None
) -> Any:
    from sybilgraph.config import Config

    config = Config.from_toml(path) if path else Config()
    # options given on the command line are checked like the settings of a file
    changes: dict[str, Any] = {}
    if seed is not None:
        changes["seed"] = seed
    if labels is not None:
        changes["labels"] = labels
    if engine is not None:
        changes["engine"] = dataclasses.replace(config.engine, name=engine)  # type: ignore[arg-type]
    return dataclasses.replace(config, **changes) if changes else config


#: options shared by the commands that run the pipeline
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML file: column names and parameters.",
)
labels_option = click.option(
    "--labels", type=click.Path(dir_okay=False), help="Labels file with investigators' verdicts."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sybilgraph")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.option("-v", "--verbose", is_flag=True, help="More log lines.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def main(debug: bool, verbose: bool, quiet: bool) -> None:
    """Find networks of fake accounts in the traffic of an AI model API."""
    from sybilgraph.progress import setup_logging

    setup_logging(verbose=verbose or debug, quiet=quiet)


@main.command()
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the run's outputs.",
)
@config_option
@click.option("--seed", type=int, help="Seed of every randomised step (default 42).")
@labels_option
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), help="Relational engine.")
@click.option(
    "--spark-master",
    help="Spark master URL, e.g. spark://host:7077 (implies --engine spark; default local[*]).",
)
@click.option("--force", is_flag=True, help="Write into a non-empty folder.")
@handle_errors
def detect(
    inputs: tuple[str, ...],
    out_dir: str,
    config_path: str | None,
    seed: int | None,
    labels: str | None,
    engine: str | None,
    spark_master: str | None,
    force: bool,
) -> None:
    """Find clusters of linked accounts in INPUT files or folders and score them.

    INPUT is a CSV, Parquet or JSONL file of events, or a folder of them. Without INPUT
    the run reads the other inputs its config names ([inputs]: edges between accounts,
    account attributes, subjects, hubs).
    """
    from sybilgraph.api import run

    config = _config(config_path, seed, labels, engine or ("spark" if spark_master else None))
    if spark_master:
        config = dataclasses.replace(
            config, engine=dataclasses.replace(config.engine, spark_master=spark_master)
        )
    if not inputs and not (config.inputs.given or config.direct_edges):
        raise click.UsageError("give an INPUT file or folder, or [inputs] in --config")
    result = run(list(inputs) or None, config, out_dir, force=force)
    info = result.info
    counts = info["counts"]
    click.echo(
        f"{info['rows']['used']} events used ({info['rows']['rejected']} rejected), "
        f"{counts['accounts']} accounts, {counts['clusters']} clusters, "
        f"{counts['flagged_clusters']} flagged"
    )
    click.echo(f"results: {Path(out_dir).resolve()}")
    index = Path(out_dir) / "index.html"
    if index.exists():
        click.echo(f"open: {index.resolve()}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--truth",
    required=True,
    type=click.Path(dir_okay=False),
    help="truth.csv: account_id, label (sybil|legit), group.",
)
@handle_errors
def evaluate(run_dir: str, truth: str) -> None:
    """Compare the flagged accounts of RUN_DIR with ground truth."""
    from sybilgraph.investigate.evaluation import evaluate as evaluate_run

    _echo(evaluate_run(run_dir, truth).summary())


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("account_a")
@click.argument("account_b")
@handle_errors
def explain(run_dir: str, account_a: str, account_b: str) -> None:
    """Say why ACCOUNT_A and ACCOUNT_B of RUN_DIR are linked, or how they connect."""
    from sybilgraph.investigate.explain import explain as explain_link
    from sybilgraph.investigate.result import open_run

    _echo(explain_link(open_run(run_dir), account_a, account_b).summary())


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("target")
@click.argument("verdict", type=click.Choice(["sybil", "benign", "not_sybil"]))
@click.option("--note", default="", help="Why; kept with the verdict.")
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(dir_okay=False),
    help="Labels file to append to (default: labels.csv beside RUN_DIR).",
)
@click.option(
    "--value",
    "is_value",
    is_flag=True,
    help="TARGET is KEY=VALUE, a shared value (e.g. ip=192.0.2.10).",
)
@handle_errors
def label(
    run_dir: str, target: str, verdict: str, note: str, labels_path: str | None, is_value: bool
) -> None:
    """Record a VERDICT on an account, a cluster or a shared value of RUN_DIR.

    TARGET is an account id or a cluster id of the run (a tracked id in a weekly
    report's folder), or KEY=VALUE with --value. VERDICT not_sybil: looked at and not
    found to be one. The next run given the same labels file (--labels) honours it.
    """
    from sybilgraph.investigate.labels import label_target

    path = label_target(
        run_dir, target, verdict, note=note, labels_path=labels_path, is_value=is_value
    )
    _echo(f"{verdict}: {target} -> {path}")


@main.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for events.<format> and truth.csv.",
)
@click.option(
    "--events",
    "n_events",
    type=int,
    default=200_000,
    show_default=True,
    help="Approximate number of events.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "jsonl"]),
    default="csv",
    show_default=True,
)
@click.option("--days", type=int, default=7, show_default=True)
@click.option("--start", default="2026-04-13", show_default=True, help="First day (UTC).")
@click.option(
    "--coordination",
    is_flag=True,
    help="Also make dataset operators behind instruction wrappers, rings hidden among VPN "
    "users, and the users of shared tools and of the common SDK.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into a folder that holds other files too (events.* and truth.csv there "
    "are replaced).",
)
@handle_errors
def synth(
    out_dir: str,
    n_events: int,
    seed: int,
    fmt: str,
    days: int,
    start: str,
    coordination: bool,
    force: bool,
) -> None:
    """Generate AI-API traffic with planted sybil rings and ground truth.

    OUT gets events.<format> and truth.csv; an earlier output there is replaced (its
    events in another format too), a folder holding other files is refused without
    --force.
    """
    from sybilgraph.synth import SynthConfig, write

    config = SynthConfig(
        n_events=n_events, seed=seed, days=days, start=start, coordination=coordination
    )
    paths = write(config, out_dir, fmt, force=force)  # type: ignore[arg-type]
    for name, path in paths.items():
        click.echo(f"{name}: {path}")


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option(
    "--week",
    "weeks",
    multiple=True,
    help="ISO week to report on, e.g. 2026-W16 (Monday to Sunday, UTC); repeat it to "
    "report several weeks in order (a backfill).",
)
@click.option("--since", help="First day of the window (ISO date), with --until.")
@click.option("--until", help="Last day of the window (ISO date, included).")
@click.option(
    "--state",
    "state_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder remembering earlier periods' clusters and verdicts.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="The report goes to OUT/<period>/.",
)
@config_option
@labels_option
@handle_errors
def report(
    inputs: tuple[str, ...],
    weeks: tuple[str, ...],
    since: str | None,
    until: str | None,
    state_dir: str,
    out_dir: str,
    config_path: str | None,
    labels: str | None,
) -> None:
    """Weekly report on INPUT's events of one period, compared with the period before.

    The period's events are linked with the compact memory STATE keeps of the weeks
    before it (``[report] lookback_weeks``).

    Writes OUT/<period>/ (report.html, report.json, the run's tables and pages) through
    a temporary folder, then updates STATE. Exit codes: 0 success, 1 internal error,
    2 bad input, config or state, 3 memory or disk limit.
    """
    from sybilgraph.report.weekly import make_reports, parse_period

    periods = [parse_period(w, since, until) for w in weeks] or [parse_period(None, since, until)]
    reports = make_reports(
        list(inputs), periods, state_dir, out_dir, _config(config_path, None), labels=labels
    )
    for done in reports:
        head = done.facts["headline"]
        changes = done.facts["changes"]
        click.echo(
            f"{done.facts['period']['name']}: {head['accounts']} accounts, "
            f"{head['clusters']} clusters, {head['flagged_clusters']} flagged; "
            + ", ".join(f"{changes[k]} {k}" for k in ("new", "grown", "shrunk", "merged", "split"))
            + f", {changes['gone']} gone"
        )
        click.echo(f"report: {(done.path / 'report.html').resolve()}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("cluster_id")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    help="Page to write (default: CLUSTER_ID.html in the current folder).",
)
@click.option("--open", "open_page", is_flag=True, help="Open the page in the web browser.")
@click.option("--force", is_flag=True, help="Replace the page if the file exists.")
@handle_errors
def view(run_dir: str, cluster_id: str, out_file: str | None, open_page: bool, force: bool) -> None:
    """Write the interactive page of CLUSTER_ID of RUN_DIR, and open it with --open."""
    from sybilgraph.investigate.result import open_run
    from sybilgraph.views.pages import safe_filename

    cluster = open_run(run_dir).cluster(cluster_id)
    target = Path(out_file or f"{safe_filename(cluster.id)}.html")
    if target.exists() and not force:
        raise OutputError(f"{target}: exists (use --force to replace it)")
    page = cluster.to_html(target, force=force).resolve()
    _echo(f"{cluster!r}\npage: {page}")
    if open_page:
        import webbrowser

        webbrowser.open(page.as_uri())


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("cluster_id")
@click.option(
    "--out", "out_file", required=True, type=click.Path(dir_okay=False), help="HTML file to write."
)
@click.option(
    "--pdf",
    "pdf_file",
    type=click.Path(dir_okay=False),
    help="Also print it to this PDF file with headless Chromium (exit 2 if none is installed).",
)
@click.option("--force", is_flag=True, help="Replace the files if they exist.")
@handle_errors
def casefile(
    run_dir: str, cluster_id: str, out_file: str, pdf_file: str | None, force: bool
) -> None:
    """Write a printable case file of CLUSTER_ID of RUN_DIR, to escalate it.

    CLUSTER_ID "top" means the run's rank-1 cluster. The page (A4, one section a page,
    no external request) holds the accounts, shared infrastructure and payment, prompt
    templates, evidence per key, the score's reasons, and the input files' SHA-256,
    version, config and seed that produced them.
    """
    from sybilgraph.investigate.casefile import cluster_page, resolve_cluster_id
    from sybilgraph.investigate.result import open_run

    run = open_run(run_dir)
    chosen = resolve_cluster_id(run, cluster_id)
    html = run.casefile(chosen, out_file, pdf=pdf_file, force=force)
    page = cluster_page(run, chosen)
    if page is not None:
        click.echo(f"cluster page: {page.resolve()}")
    click.echo(f"case file: {html.resolve()}")
    if pdf_file:
        click.echo(f"pdf: {Path(pdf_file).resolve()}")


if __name__ == "__main__":
    main()
