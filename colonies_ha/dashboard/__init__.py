"""The web dashboard's static files (HTML, JS modules, vendored signing libraries).

Served by every replica at /dashboard/ (see colonies_ha/api/dashboard.py); the page signs
requests itself, so the server needs no session or login of its own.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
