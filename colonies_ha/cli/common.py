"""What every user command shares: endpoint and keys, running a call, printing results.

Commands only parse, call `ColoniesClient` and print; everything else lives here so that
they all read the same environment, print the same tables and fail the same way.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from colonies_ha.client import ColoniesClient, colony_field
from colonies_ha.config import DEFAULT_PORT
from colonies_ha.domain.errors import ColoniesError
from colonies_ha.protocol.crypto import id_of_private_key

T = TypeVar("T")
Json = dict[str, Any]

# Which environment variable holds the key of each protocol role (protocol.md §5, §8).
KEY_ENV = {
    "server": "COLONIES_SERVER_PRVKEY",
    "colony": "COLONIES_COLONY_PRVKEY",
    "executor": "COLONIES_EXECUTOR_PRVKEY",
}

PROCESS_STATES = {0: "waiting", 1: "running", 2: "successful", 3: "failed"}
EXECUTOR_STATES = {0: "pending", 1: "approved", 2: "rejected"}
STATE_STYLES = {
    "waiting": "yellow",
    "running": "cyan",
    "successful": "green",
    "failed": "red",
    "pending": "yellow",
    "approved": "green",
    "rejected": "red",
}
ZERO_TIME_YEAR = 1


class CliError(Exception):
    """A problem on our side of the wire (missing key, unreadable file): one line, exit 1."""


@dataclass(frozen=True, slots=True)
class Conn:
    """Where the server is and which key overrides the role's default one."""

    url: str
    prvkey: str | None
    colonyid: str | None
    colonyname: str | None = None

    def key(self, *roles: str) -> str:
        """`--prvkey`, else the first role whose environment variable is set."""
        if self.prvkey:
            return self.prvkey
        for role in roles:
            value = os.environ.get(KEY_ENV[role])
            if value:
                return value
        names = " or ".join(KEY_ENV[role] for role in roles)
        raise CliError(f"no private key: set {names}, or pass --prvkey")

    def client(self, *roles: str) -> ColoniesClient:
        return ColoniesClient(self.url, self.key(*roles))

    def colony(self) -> str:
        """The colony's id, or its name (the client sends either as the server expects)."""
        if self.colonyid:
            return self.colonyid
        if self.colonyname:
            return self.colonyname
        colony_key = os.environ.get(KEY_ENV["colony"])
        if colony_key:
            return id_of_private_key(colony_key)
        raise CliError(
            "no colony: set COLONIES_COLONY_NAME or COLONIES_COLONY_ID, "
            "or pass --colony or --colonyid"
        )


def server_url(host: str, port: int, tls: bool) -> str:
    return f"{'https' if tls else 'http'}://{host}:{port}"


def connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --host/--port/--tls/--prvkey/--colonyid/--colony and hands the command one
    `conn`."""

    @click.option(
        "--host",
        envvar="COLONIES_SERVER_HOST",
        show_envvar=True,
        default="localhost",
        help="Server address.",
    )
    @click.option(
        "--port", envvar="COLONIES_SERVER_PORT", show_envvar=True, default=DEFAULT_PORT, type=int
    )
    @click.option(
        "--tls/--no-tls", envvar="COLONIES_TLS", show_envvar=True, default=False, help="Use https."
    )
    @click.option(
        "--prvkey",
        default=None,
        help="Sign with this key instead of the role's COLONIES_*_PRVKEY.",
    )
    @click.option(
        "--colonyid",
        envvar="COLONIES_COLONY_ID",
        show_envvar=True,
        default=None,
        help="Colony to act in, by id (or a name, as --colony).",
    )
    @click.option(
        "--colony",
        "colonyname",
        envvar="COLONIES_COLONY_NAME",
        show_envvar=True,
        default=None,
        help="Colony to act in, by name (used when no --colonyid is given).",
    )
    @functools.wraps(func)
    def wrapper(
        host: str,
        port: int,
        tls: bool,
        prvkey: str | None,
        colonyid: str | None,
        colonyname: str | None,
        **kwargs: Any,
    ) -> Any:
        try:
            conn = Conn(server_url(host, port, tls), prvkey, colonyid, colonyname)
            return func(conn=conn, **kwargs)
        except (ColoniesError, CliError) as error:
            return fail(str(error))

    return wrapper


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table."
    )(func)


def call(conn: Conn, roles: Sequence[str], action: Callable[[ColoniesClient], Awaitable[T]]) -> T:
    """Run one client action signed by the first available role key; errors become one line."""
    try:
        client = conn.client(*roles)

        async def run() -> T:
            async with client:
                return await action(client)

        return asyncio.run(run())
    except (ColoniesError, CliError, ValueError) as error:
        fail(str(error))


def fail(message: str) -> Any:
    """One red line on stderr and exit code 1: the server's words, never a traceback."""
    click.echo(click.style("error:", fg="red", bold=True) + " " + message, err=True)
    raise click.exceptions.Exit(1)


# -- input ----------------------------------------------------------------------------


def read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise CliError(f"{path} is not valid JSON: {error}") from error


def complete_spec(spec: Json, colony: str) -> Json:
    """Fill in what a hand-written FunctionSpec may leave out: its colony (by id or name)
    and node name."""
    if not isinstance(spec, dict):
        raise CliError("a function spec must be a JSON object")
    conditions = dict(spec.get("conditions") or {})
    if not conditions.get("colonyid") and not conditions.get("colonyname"):
        conditions.pop("colonyid", None)
        conditions.update(colony_field(colony))
    conditions.setdefault("executortype", os.environ.get("COLONIES_EXECUTOR_TYPE", ""))
    filled = {**spec, "conditions": conditions}
    filled.setdefault("nodename", spec.get("funcname", ""))
    return filled


def workflow_specs(document: Any, colony: str) -> tuple[str, list[Json]]:
    """The colony and specs of a workflow file: a bare list, or {"colonyid" (or
    "colonyname"), "functionspecs"}."""
    if isinstance(document, dict) and "functionspecs" in document:
        colony = document.get("colonyid") or document.get("colonyname") or colony
        document = document["functionspecs"]
    if not isinstance(document, list) or not document:
        raise CliError("a workflow is a non-empty JSON list of function specs")
    return colony, [complete_spec(spec, colony) for spec in document]


def workflow_spec_text(path: Path, colony: str) -> str:
    """A workflow file as the JSON *string* generators and crons carry."""
    found, specs = workflow_specs(read_json_file(path), colony)
    return json.dumps({**colony_field(found), "functionspecs": specs})


# -- output ---------------------------------------------------------------------------


def console() -> Console:
    """A console on the current stdout; wide when piped so 64-char ids stay on one line."""
    probe = Console()
    if probe.is_terminal:
        return probe
    return Console(width=400, highlight=False)


def emit(renderable: Any) -> None:
    """Print through click (so tests capture it) without rich's trailing padding."""
    out = console()
    with out.capture() as captured:
        out.print(renderable)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def table(columns: Iterable[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    """An aligned table; id columns fold rather than get cut, so they can be copied."""
    grid = Table(
        box=box.SIMPLE_HEAD, show_edge=False, title=title, title_justify="left", pad_edge=False
    )
    for name in columns:
        folds = name.endswith("ID")
        grid.add_column(name, overflow="fold" if folds else "ellipsis", no_wrap=not folds)
    for row in rows:
        grid.add_row(*(cell if isinstance(cell, Text) else str(cell) for cell in row))
    emit(grid)


def details(pairs: Iterable[tuple[str, Any]], title: str | None = None) -> None:
    """One object as a two-column key/value table."""
    grid = Table(box=None, show_header=False, title=title, title_justify="left", pad_edge=False)
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for name, value in pairs:
        grid.add_row(name, value if isinstance(value, Text) else str(value))
    emit(grid)


def listing(
    items: list[Json],
    as_json: bool,
    columns: Sequence[str],
    row: Callable[[Json], Sequence[Any]],
    empty: str,
) -> None:
    """A listing: JSON for scripts, else a table (or a friendly line when there is nothing)."""
    if as_json:
        print_json(items)
    elif not items:
        click.echo(empty)
    else:
        table(columns, [row(item) for item in items])


def styled_state(name: str) -> Text:
    return Text(name, style=STATE_STYLES.get(name, ""))


def process_state(state: int) -> Text:
    return styled_state(PROCESS_STATES.get(state, str(state)))


def executor_state(state: int) -> Text:
    return styled_state(EXECUTOR_STATES.get(state, str(state)))


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 time from the wire (nanoseconds allowed); None for the zero time."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.year <= ZERO_TIME_YEAR:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def relative(value: str | None, now: datetime | None = None) -> str:
    """Ages like "12 s ago" or "in 3 min" ("-" for the zero time): humans read ages."""
    moment = parse_time(value)
    if moment is None:
        return "-"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    text = _span(abs(seconds))
    return f"{text} ago" if seconds >= 0 else f"in {text}"


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def short(value: Any, width: int = 40) -> str:
    """A compact one-line rendering of args/out/errors for a table cell."""
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"
