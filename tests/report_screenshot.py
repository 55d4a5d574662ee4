"""For humans: write a sample `mvctl report` page and a screenshot of it from headless Chromium.

    python tests/report_screenshot.py [OUT_FOLDER]     (default: ./report-screenshot)

Uses the recorded state the report tests use (no training), so it takes a few seconds. Not
collected by pytest.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.functional import chromium  # noqa: E402
from tests.functional.projects import base_env  # noqa: E402
from tests.functional.report_state import write_report_project  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "report-screenshot").resolve()
    root = write_report_project(out / "project")
    subprocess.run(
        [sys.executable, "-m", "mvctl", "report", "-o", str(out / "report.html")],
        cwd=root,
        env=base_env(None),
        check=True,
    )
    shot = chromium.screenshot(out / "report.html", out / "report.png")
    print(f"page: {out / 'report.html'}\nscreenshot: {shot}")


if __name__ == "__main__":
    main()
