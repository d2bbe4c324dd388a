"""The wheel the Dockerfile installs carries every file of the package, not just the .py.

The image installs colonies-ha from a wheel (no source tree): a migration, a query file or
a dashboard asset left out of the package data would only show up in a running pod.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tracked_files(*paths: str) -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", *paths], cwd=REPO, check=True, capture_output=True, text=True
    )
    return listing.stdout.split()


def test_the_wheel_holds_every_tracked_package_file(tmp_path: Path) -> None:
    # Built from a copy of the tracked files alone: a stale egg-info or build/ folder in the
    # working tree would otherwise fill in what the package data leaves out.
    source, wheels = tmp_path / "src", tmp_path / "wheels"
    for name in tracked_files("pyproject.toml", "README.md", "colonies_ha"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("colonies_ha-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(set(tracked_files("colonies_ha")) - packaged)
    assert missing == []
    assert any(name.endswith("migrations/0001_initial.sql") for name in packaged)
