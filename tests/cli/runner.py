"""Invoking `colonies-ha` in-process, the way a user types it."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from colonies_ha.cli.main import cli


def invoke(env: dict[str, str], *args: str, code: int = 0) -> Result:
    """Run one command; fail the test with its output unless it exits with `code`."""
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, (
        f"{args}: exit {result.exit_code}\n{result.stdout}\n{result.stderr}\n{result.exception!r}"
    )
    if code:
        assert "Traceback" not in result.output
    return result


def invoke_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(invoke(env, *args, "--json").stdout)


def refused(env: dict[str, str], *args: str) -> str:
    """A refused command: exit 1, one line on stderr, nothing on stdout; returns the line."""
    result = invoke(env, *args, code=1)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]
