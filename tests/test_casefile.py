"""Case files: what they hold, what they leave out, offline in Chromium, PDF and CLI."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from markupsafe import escape

import sybilgraph
from sybilgraph import Config
from sybilgraph.cli import main
from sybilgraph.config import PrivacyConfig
from sybilgraph.errors import OutputError
from sybilgraph.investigate.result import Result
from sybilgraph.views.casefile import find_chromium

from .browser import HOSTILE_ID, HOSTILE_PROMPT
from .conftest import hand_events

SHOTS = Path("/tmp/casefile-shots")
#: summary, accounts, shared values, templates, evidence, provenance: one page each
SECTIONS = 6


def _events() -> pd.DataFrame:
    """The hand events, with a hostile account in ring A (a copy of a1's traffic) that
    also sends a hostile prompt five times, as a2 does: a template the two share."""
    events = hand_events()
    a1 = events[events["account_id"] == "a1"]
    copy = a1.assign(account_id=HOSTILE_ID)
    first = a1.iloc[0]
    hostile = pd.DataFrame(
        [
            {**first.to_dict(), "account_id": account, "prompt": f"{HOSTILE_PROMPT} step {r}"}
            for account in (HOSTILE_ID, "a2")
            for r in range(5)
        ]
    )
    return pd.concat([events, copy, hostile], ignore_index=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Result:
    folder = tmp_path_factory.mktemp("casefile")
    events = folder / "events.csv"
    _events().to_csv(events, index=False)
    return sybilgraph.run(str(events), out_dir=folder / "run")


@pytest.fixture(scope="module")
def case(run: Result) -> Path:
    return run.casefile("top", run.out_dir.parent / "case.html")


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_top_clusters_case_file_holds_its_facts(run: Result, case: Path) -> None:
    page = case.read_text("utf-8")
    top = run.cluster(str(run.clusters["cluster_id"].iloc[0]))
    # ring A: a1..a6 and the hostile copy of a1
    assert len(top.members) == 7
    assert '<dd id="account-count">7</dd>' in page
    for reason in top.reasons:
        assert str(escape(reason)) in page
    events = Path(run.info["inputs"][0])
    digest = hashlib.sha256(events.read_bytes()).hexdigest()
    assert f'<code class="sha256">{digest}</code>' in page
    assert f"sybilgraph {run.info['version']}" in page
    assert "&#34;seed&#34;: 42" in page
    assert str(escape("solve step by step: <num> * <num> + <num>")) in page
    # the timeline kept for the cluster's page (activity.parquet) is drawn here too
    assert page.count('class="raster-row"') == len(top.members)


def test_default_privacy_leaves_out_raw_prompts_ips_and_cards(case: Path) -> None:
    page = case.read_text("utf-8")
    assert "Solve step by step" not in page  # a raw sample; the masked text is lower case
    assert "203.0.113." not in page
    assert "pm_ringA" not in page
    assert re.search(r"ip~[0-9a-f]{12}", page)
    assert re.search(r"pay~[0-9a-f]{12}", page)


def test_data_is_escaped(case: Path) -> None:
    page = case.read_text("utf-8")
    assert HOSTILE_ID not in page
    assert str(escape(HOSTILE_ID)) in page
    assert "<script" not in page.lower()
    assert "&lt;/script&gt;&lt;script&gt;" in page  # the hostile template, as text


def test_a_run_without_pseudonyms_shows_raw_samples(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    hand_events().to_csv(events, index=False)
    config = Config(privacy=PrivacyConfig(pages=False))
    result = sybilgraph.run(str(events), config, tmp_path / "run")
    events.unlink()  # the case file says so rather than failing
    page = result.casefile("top", tmp_path / "case.html").read_text("utf-8")
    assert re.search(r"Solve step by step: \d+ \* \d+ \+ \d+", page)  # a raw sample
    assert "203.0.113.1" in page
    assert "pm_ringA_1" in page
    assert '<code class="sha256">not found</code>' in page


def test_cluster_casefile_refuses_to_overwrite(run: Result, tmp_path: Path) -> None:
    cluster = run.cluster(str(run.clusters["cluster_id"].iloc[1]))
    path = cluster.casefile(tmp_path / "second.html")
    assert cluster.id in path.read_text("utf-8")
    with pytest.raises(OutputError, match="exists"):
        cluster.casefile(path)
    assert cluster.casefile(path, force=True) == path
    # the PDF may not replace the HTML, named alike or through a link
    link = tmp_path / "link.html"
    link.symlink_to(path)
    for pdf in (path, link):
        with pytest.raises(OutputError, match="the PDF would replace the HTML case file"):
            cluster.casefile(path, pdf=pdf, force=True)
    # written through a link, the file it points to is replaced and the link kept
    link.unlink()
    link.symlink_to(tmp_path / "elsewhere.html")
    (tmp_path / "elsewhere.html").write_text("old")
    cluster.casefile(link, force=True)
    assert link.is_symlink() and cluster.id in (tmp_path / "elsewhere.html").read_text("utf-8")
    # and a device (a link to one: /dev/stdout) is never replaced by a file
    device = tmp_path / "out.html"
    device.symlink_to("/dev/null")
    with pytest.raises(OutputError, match="not a regular file"):
        cluster.casefile(device, force=True)
    assert Path("/dev/null").is_char_device() and device.is_symlink()


def test_opens_offline_in_chromium(browser: Any, case: Path) -> None:
    page = browser.new_page(viewport={"width": 900, "height": 1200})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(case.as_uri())
        assert page.title().startswith("Case file: cluster C")
        assert page.locator("#account-count").text_content() == "7"
        assert HOSTILE_PROMPT.split("<script>")[1][:10] in page.locator("#templates").inner_text()
        assert page.locator("#accounts").inner_text().count(HOSTILE_ID) == 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "casefile.png"), full_page=True)
        assert "pwned" not in page.title()
        assert errors == []
        assert requests and all(u.startswith("file://") for u in requests)
    finally:
        page.close()


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium to print with")
def test_pdf_has_one_page_per_section(run: Result, tmp_path: Path) -> None:
    pdf = tmp_path / "case.pdf"
    code, stdout, _ = _invoke(
        "casefile", str(run.out_dir), "top", "--out", str(tmp_path / "c.html"), "--pdf", str(pdf)
    )
    assert code == 0, stdout
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", data)) == SECTIONS


def test_pdf_without_chromium_exits_2_in_one_line(
    run: Result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sybilgraph.views.casefile.CHROMIUM_PATHS", ())
    monkeypatch.setenv("PATH", str(tmp_path))
    pdf = tmp_path / "case.pdf"
    code, _, stderr = _invoke(
        "casefile", str(run.out_dir), "top", "--out", str(tmp_path / "c.html"), "--pdf", str(pdf)
    )
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert "no Chromium found" in stderr
    assert not pdf.exists()
    assert not (tmp_path / "c.html").exists()  # nothing half done


def test_pdf_that_chromium_fails_to_print_names_the_html_written(
    run: Result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "bin" / "chromium"
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr("sybilgraph.views.casefile.CHROMIUM_PATHS", ())
    monkeypatch.setenv("PATH", str(broken.parent))
    html, pdf = tmp_path / "c.html", tmp_path / "case.pdf"
    code, _, stderr = _invoke(
        "casefile", str(run.out_dir), "top", "--out", str(html), "--pdf", str(pdf)
    )
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert "Chromium failed to print the PDF (exit 3)" in stderr
    assert f"the HTML case file is written: {html}" in stderr
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert not pdf.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_unknown_cluster_exits_2_naming_it(run: Result, tmp_path: Path) -> None:
    out = tmp_path / "c.html"
    code, _, stderr = _invoke("casefile", str(run.out_dir), "Cnosuchthing", "--out", str(out))
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1
    assert "'Cnosuchthing'" in stderr
    assert not out.exists()


def test_cli_top_prints_the_page_and_refuses_to_overwrite(run: Result, tmp_path: Path) -> None:
    out = tmp_path / "c.html"
    code, stdout, _ = _invoke("casefile", str(run.out_dir), "top", "--out", str(out))
    assert code == 0, stdout
    top = str(run.clusters["cluster_id"].iloc[0])
    assert f"cluster page: {(run.out_dir / 'clusters' / f'{top}.html').resolve()}" in stdout
    assert f"case file: {out.resolve()}" in stdout
    code, _, stderr = _invoke("casefile", str(run.out_dir), "top", "--out", str(out))
    assert code == 2
    assert "exists" in stderr
    assert _invoke("casefile", str(run.out_dir), "top", "--out", str(out), "--force")[0] == 0
