"""For humans and the README: apply the quickstart, write its `mvctl report` page and a
screenshot of it from headless Chromium.

    python tests/report_screenshot.py [OUT_FOLDER]     (default: ./report-screenshot)

Trains the quickstart in a copy under OUT_FOLDER (about a minute); the README's reference
picture, docs/report-quickstart.png, is this script's screenshot. Not collected by pytest.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.functional import chromium  # noqa: E402
from tests.functional.projects import base_env  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "report-screenshot").resolve()
    root = out / "quickstart"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "examples" / "quickstart", root, ignore=shutil.ignore_patterns(".mvctl"))
    for command in (["apply", "--auto-approve"], ["report", "-o", str(out / "report.html")]):
        subprocess.run(
            [sys.executable, "-m", "mvctl", *command],
            cwd=root,
            env=base_env(None),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    shot = chromium.screenshot(out / "report.html", out / "report.png", height=3000)
    print(f"page: {out / 'report.html'}\nscreenshot: {shot}")


if __name__ == "__main__":
    main()
