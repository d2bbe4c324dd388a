"""The wheel the Dockerfile installs carries every file of the package, not just the .py.

The image installs colonies-ha from a wheel (no source tree): a migration, a query file or
a dashboard asset left out of the package data would only show up in a running pod.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_tracked_package_file(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--wheel-dir",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("colonies_ha-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "colonies_ha"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split()
    missing = sorted(set(tracked) - packaged)
    assert missing == []
    assert any(name.endswith("migrations/0001_initial.sql") for name in packaged)
