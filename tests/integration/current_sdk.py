"""pycolonies 1.0.25 from PyPI, unmodified, loaded beside the pinned 1.0.2.

Releases from 1.0.17 sign in pure Python and ship their own `crypto.py` and `model.py`,
which `pycolonies.py` imports by those bare names; they are loaded as private modules and
seen under those names only while the SDK module itself is imported.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

from tests.pycolonies_sdk import install_sdks, sdk_dir

CURRENT = "1.0.25"


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_current_sdk(release: str = CURRENT) -> types.ModuleType:
    """The release's `pycolonies` module (installed on first use), with its own crypto."""
    name = "pycolonies_" + release.replace(".", "_")
    if name in sys.modules:
        return sys.modules[name]
    install_sdks((release,))
    folder = sdk_dir(release)
    saved = {dep: sys.modules.get(dep) for dep in ("crypto", "model")}
    try:
        for dep in saved:
            sys.modules[dep] = _load(f"{name}_{dep}", folder / f"{dep}.py")
        return _load(name, folder / "pycolonies.py")
    finally:
        for dep, module in saved.items():
            if module is None:
                sys.modules.pop(dep, None)
            else:
                sys.modules[dep] = module
