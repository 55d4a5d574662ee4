"""`mvctl report` writes one self-contained page that renders in a real browser (headless
Chromium): the expected tables are in the DOM and every image decoded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.functional import chromium
from tests.functional.projects import Project, base_env
from tests.functional.report_state import write_report_project


@pytest.fixture
def report(tmp_path: Path) -> Path:
    project = Project(write_report_project(tmp_path / "proj"), base_env(None))
    written = project.mvctl("report", "-o", "report.html")
    assert written.code == 0, written.text
    return project.root / "report.html"


def test_the_page_needs_nothing_but_itself(report: Path) -> None:
    page = report.read_text("utf-8")
    sources = re.findall(r'<img[^>]* src="([^"]*)"', page)
    assert len(sources) == 2 and all(src.startswith("data:image/png;base64,") for src in sources)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page and "@import" not in page


@pytest.mark.skipif(
    not chromium.available(), reason="chromium is not installed (.ci/run installs it)"
)
def test_the_report_renders_in_headless_chromium(report: Path) -> None:
    dom = chromium.dump_dom(report)
    assert re.search(r'<body data-images="2/2"', dom), dom[:500]
    for table in ("aliases", "versions", "metrics", "history"):
        assert f'<table class="{table}"' in dom
    metrics = dom[dom.index('<table class="metrics"') :]
    metrics = metrics[: metrics.index("</table>")]
    assert re.findall(r"<th>([^<]*)</th>", metrics) == [
        "version",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
        "latency_p50_ms",
        "qps",
    ]
    assert "<td>1.0.0</td>" in metrics and ">0.93<" in metrics
    assert 'alt="ROC curves of churn' in dom and 'alt="Trend of each metric of churn' in dom
    assert "churn:production: (none) -&gt; 1.0.0" in dom


@pytest.mark.skipif(
    not chromium.available(), reason="chromium is not installed (.ci/run installs it)"
)
def test_the_screenshot_is_not_blank(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = chromium.screenshot(report, tmp_path / "report.png")
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text, tables and plots, not one flat colour
