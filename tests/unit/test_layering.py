"""The layering contract of pyproject.toml ([tool.importlinter]) holds, so `make test` and CI
refuse an import that goes up a layer (`make lint` runs the same check)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import colonies_ha

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(*config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo", *map(str, config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_layers_contract_is_kept() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout, result.stdout


def test_every_top_level_module_has_a_layer() -> None:
    """`exhaustive` makes the check fail on a module nobody placed; keep it on."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    assert contract["exhaustive"] is True
    placed = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    package = REPO / "colonies_ha"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {p.parent.name for p in package.glob("*/__init__.py")}
    assert placed == modules


def test_an_upward_import_is_reported(tmp_path: Path) -> None:
    """A control on the real code: with protocol declared below domain, protocol's real
    imports of the domain must break the contract, or the check above proves nothing."""
    config = tmp_path / "upside-down.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "colonies_ha"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "upside down"\ntype = "layers"\n'
        'containers = ["colonies_ha"]\nlayers = ["domain", "protocol"]\n'
    )
    result = lint_imports(config)
    assert result.returncode != 0
    assert "colonies_ha.protocol" in result.stdout and "BROKEN" in result.stdout, result.stdout


def test_every_module_imports() -> None:
    """A merge can leave an import of a name that moved (lint-imports only reads the import
    lines): import every module of the package (`__main__` runs the CLI, so not that one)."""
    failures = []
    for module in pkgutil.walk_packages(colonies_ha.__path__, "colonies_ha."):
        if module.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(module.name)
        except Exception as error:
            failures.append(f"{module.name}: {error!r}")
    assert failures == []
