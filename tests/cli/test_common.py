"""The shared helpers: relative times, spec completion, workflow files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from colonies_ha.cli.common import CliError, complete_spec, relative, workflow_specs
from colonies_ha.cli.dev import client_host, export_lines

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2024-01-01T11:59:48.123456789Z", "11 s ago"),
        ("2024-01-01T11:57:00Z", "3 min ago"),
        ("2023-12-31T09:00:00Z", "1 d ago"),
        ("2024-01-01T14:00:00Z", "in 2 h"),
        ("0001-01-01T00:00:00Z", "-"),
        ("", "-"),
    ],
)
def test_relative(value: str, shown: str) -> None:
    assert relative(value, NOW) == shown


def test_complete_spec_fills_colony_and_nodename() -> None:
    c1 = "c1" * 32  # an id: 64 hex characters
    spec = complete_spec({"funcname": "f", "conditions": {"colonyid": ""}}, c1)
    assert spec["conditions"]["colonyid"] == c1 and spec["nodename"] == "f"
    kept = complete_spec({"funcname": "f", "conditions": {"colonyid": "c2"}}, c1)
    assert kept["conditions"]["colonyid"] == "c2"
    by_name = complete_spec({"funcname": "f"}, "dev")
    assert by_name["conditions"] == {"colonyname": "dev", "executortype": ""} or (
        by_name["conditions"]["colonyname"] == "dev" and "colonyid" not in by_name["conditions"]
    )


def test_workflow_specs_accepts_list_or_object() -> None:
    specs = [{"funcname": "f"}]
    assert workflow_specs(specs, "c1")[0] == "c1"
    assert workflow_specs({"colonyid": "c2", "functionspecs": specs}, "c1")[0] == "c2"
    with pytest.raises(CliError):
        workflow_specs([], "c1")


@pytest.mark.parametrize(
    ("listen", "printed"),
    [
        ("127.0.0.1", "localhost"),
        ("0.0.0.0", "localhost"),
        ("::", "localhost"),
        ("10.1.2.3", "10.1.2.3"),
    ],
)
def test_dev_prints_the_host_it_listens_on(listen: str, printed: str) -> None:
    keys = {"server": "1" * 64, "colony": "2" * 64, "executor": "3" * 64}
    lines = export_lines(keys, client_host(listen), 50080)
    assert f"export COLONIES_SERVER_HOST={printed}" in lines
    assert "export COLONIES_TLS=false" in lines
    assert (
        "export COLONIES_COLONY_NAME=dev" in lines and "export COLONIES_SERVER_TLS=false" in lines
    )
    assert f"export COLONIES_PRVKEY={keys['executor']}" in lines
