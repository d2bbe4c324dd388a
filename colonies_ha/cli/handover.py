"""`colonies-ha handover`: the Kubernetes preStop hook of a replica.

It asks the replica in the same pod, over loopback, to hand leadership over while it still
serves, then waits `--drain` seconds so that clients routed here before the endpoint removal
reached them are still answered (as a follower) before SIGTERM closes the listener.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import click

from colonies_ha.api.local import HANDOVER_PATH
from colonies_ha.cli.statefulset import membership_from_options, statefulset_options
from colonies_ha.config import DEFAULT_PORT


def request_handover(port: int, timeout: float) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{HANDOVER_PATH}", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return dict(json.loads(response.read()))


@click.command()
@click.option(
    "--port",
    default=DEFAULT_PORT,
    type=int,
    envvar="COLONIES_SERVER_PORT",
    show_envvar=True,
    help="API port of the replica in this pod (called on 127.0.0.1).",
)
@click.option("--timeout", default=10.0, type=float, help="Give up on the replica after this.")
@click.option(
    "--drain",
    default=0.0,
    type=click.FloatRange(min=0),
    envvar="COLONIES_PRESTOP_DRAIN_SECONDS",
    show_envvar=True,
    help="Seconds to keep serving afterwards while the endpoint removal spreads.",
)
@statefulset_options
def handover(port: int, timeout: float, drain: float, **pod_options: object) -> None:
    """Hand leadership to another replica now, then wait --drain seconds (preStop hook)."""
    membership = membership_from_options(pod_options, port)
    if membership is not None:
        port = membership.api_port
    failed = False
    try:
        result = request_handover(port, timeout)
    except (urllib.error.URLError, OSError, ValueError) as error:
        click.echo(f"error: handover through 127.0.0.1:{port} failed: {error}", err=True)
        failed = True
    else:
        if result.get("handed_over"):
            click.echo(f"handed leadership to {result.get('leader')}")
        elif result.get("was_leader"):
            click.echo("was leading but no successor took over; SIGTERM will try again")
        else:
            click.echo(f"not the leader (leader: {result.get('leader') or 'unknown'})")
    if drain:
        time.sleep(drain)  # the point of the drain: keep serving for this long
    if failed:
        raise SystemExit(1)
