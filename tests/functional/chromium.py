"""Headless Chromium (Debian's `chromium`, which .ci/run installs) for checking rendered pages.

Every run gets a fresh profile folder and the flags that keep Chromium off the network and
quiet: no sync, no component updates, no background requests, no QUIC. The virtual time
budget lets the page's own scripts (image decoding) finish before the DOM is dumped.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
]


def available() -> bool:
    return Path(CHROMIUM).is_file()


def _run(page: Path, *extra: str) -> str:
    with tempfile.TemporaryDirectory(prefix="mvctl-chromium-") as profile:
        done = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def dump_dom(page: Path) -> str:
    """The page's DOM after it loaded and its scripts ran."""
    return _run(page, "--dump-dom")


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 2400) -> Path:
    _run(
        page,
        f"--screenshot={out.resolve()}",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    )
    return out
