"""The unmodified pycolonies SDK, with its native crypto library swapped for ours.

pycolonies 1.0.2 signs through a `libcryptolib.so` that its wheel does not ship.  The
algorithm is the one colonies_ha implements (checked against the same vectors), so the
SDK's `crypto` module is replaced before the SDK is imported; every envelope is still
built by the SDK itself.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

from colonies_ha.protocol import crypto as ours


class Crypto:
    def prvkey(self) -> str:
        return ours.generate_private_key()

    def id(self, prvkey: str) -> str:
        return ours.id_of_private_key(prvkey)

    def hash(self, data: str) -> str:
        return ours.sha3_hex(data)

    def sign(self, data: str, prvkey: str) -> str:
        return ours.sign(data, prvkey)

    def recoverid(self, data: str, signature: str) -> str:
        return ours.recover_id(data, signature)


_shim = types.ModuleType("crypto")
_shim.Crypto = Crypto  # type: ignore[attr-defined]
sys.modules["crypto"] = _shim

import pycolonies  # noqa: E402  (must come after the shim)

Colonies = pycolonies.Colonies
ColoniesError = pycolonies.ColoniesError
Workflow = pycolonies.Workflow
func_spec = pycolonies.create_func_spec


# --- Every release the protocol reference names (1.0.2 … 1.0.10), side by side -------------
#
# One environment can hold one version of a package, so the matrix installs each release
# from PyPI into a folder of its own inside the virtualenv (once; later runs reuse it) and
# loads its single module under a name of its own.  Each still imports `crypto`, i.e. the
# shim above.

SDK_VERSIONS = tuple(f"1.0.{patch}" for patch in range(2, 11))
# The newest generation (colonies by name): every release on PyPI after 1.0.10; 1.0.11 and
# 1.0.22 were never published there.
CURRENT_SDK_VERSIONS = tuple(f"1.0.{patch}" for patch in (*range(12, 22), 23, 24, 25))
ALL_SDK_VERSIONS = SDK_VERSIONS + CURRENT_SDK_VERSIONS
SDK_ROOT = Path(sys.prefix) / "pycolonies-sdks"


def sdk_dir(release: str) -> Path:
    return SDK_ROOT / release


def install_sdks(releases: tuple[str, ...] = SDK_VERSIONS) -> None:
    """`pip install --no-deps --target` each missing release, in parallel; fail loudly."""
    missing = [r for r in releases if not (sdk_dir(r) / "pycolonies.py").exists()]
    pips = {
        release: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--disable-pip-version-check",
                "--target",
                str(sdk_dir(release)),
                f"pycolonies=={release}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for release in missing
    }
    failures = []
    for release, pip in pips.items():
        output, _ = pip.communicate(timeout=300)
        if pip.returncode != 0:
            failures.append(f"pycolonies=={release}: {output.decode(errors='replace').strip()}")
    if failures:
        raise RuntimeError("could not install pycolonies from PyPI:\n" + "\n".join(failures))


def load_sdk(release: str) -> types.ModuleType:
    """The unmodified `pycolonies.py` of one release, as module `pycolonies_1_0_N`."""
    name = "pycolonies_" + release.replace(".", "_")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, sdk_dir(release) / "pycolonies.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_current_sdk(release: str = "1.0.25") -> types.ModuleType:
    """A newest-generation release in this interpreter, beside the pinned 1.0.2.

    From 1.0.17 the SDK signs in pure Python and ships its own `crypto.py` and `model.py`,
    which `pycolonies.py` imports by those bare names: they are loaded as private modules
    and seen under those names only while the SDK module itself is imported (the matrix
    runs each release in an interpreter of its own instead; in-process tests use this).
    """
    name = "pycolonies_" + release.replace(".", "_")
    if name in sys.modules:
        return sys.modules[name]
    install_sdks((release,))
    saved = {dep: sys.modules.get(dep) for dep in ("crypto", "model")}
    try:
        for dep in saved:
            sys.modules[dep] = _load_file(f"{name}_{dep}", sdk_dir(release) / f"{dep}.py")
        return _load_file(name, sdk_dir(release) / "pycolonies.py")
    finally:
        for dep, module in saved.items():
            if module is None:
                sys.modules.pop(dep, None)
            else:
                sys.modules[dep] = module


def _load_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
