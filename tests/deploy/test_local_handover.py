"""/local/handover (the preStop hook's way in) and /local/leadership (how serving workers
follow their primary) serve loopback callers and nobody else."""

from __future__ import annotations

import json
from typing import Any, cast
from unittest import mock
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from colonies_ha.api.local import HANDOVER_PATH, add_local_routes, is_loopback
from colonies_ha.cluster.primary import LEADERSHIP_PATH, LeadershipView
from colonies_ha.services.context import Context


class FakeLeadership:
    """Leads as a:1 until asked to hand over, then b:1 leads."""

    def __init__(self) -> None:
        self.handovers = 0

    def status(self) -> dict[str, Any]:
        return {"self": "a:1", "leader": self.leader_address()}

    def leader_address(self) -> str:
        return "b:1" if self.handovers else "a:1"

    @property
    def epoch(self) -> int | None:
        return None if self.handovers else 7

    def leader_api_url(self) -> str | None:
        return "http://b:51080" if self.handovers else None

    async def hand_over(self, wait: float = 3.0) -> bool:
        self.handovers += 1
        return True


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.1.2.3", False),
        ("::ffff:10.1.2.3", False),
        ("fe80::1%eth0", False),
        ("192.168.1.5", False),
        ("", False),
        (None, False),
        ("not-an-address", False),
    ],
)
def test_is_loopback(remote: str | None, expected: bool) -> None:
    assert is_loopback(remote) is expected


async def call(
    remote: str, leadership: FakeLeadership, method: str = "POST", path: str = HANDOVER_PATH
) -> web.Response:
    app = web.Application()
    add_local_routes(app, cast(Context, mock.Mock(leadership=leadership)))
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        (remote, 40000) if key == "peername" else default
    )
    request = make_mocked_request(method, path, app=app, transport=transport)
    match = await app.router.resolve(request)
    return cast(web.Response, await match.handler(request))


@pytest.mark.parametrize("remote", ["10.244.1.7", "::ffff:10.244.1.7", "2001:db8::7"])
async def test_other_callers_are_refused_and_nothing_happens(remote: str) -> None:
    leadership = FakeLeadership()
    response = await call(remote, leadership)
    assert response.status == 403
    assert leadership.handovers == 0


@pytest.mark.parametrize("remote", ["127.0.0.1", "::1"])
async def test_a_loopback_caller_gets_the_handover(remote: str) -> None:
    leadership = FakeLeadership()
    response = await call(remote, leadership)
    assert response.status == 200
    assert leadership.handovers == 1
    assert response.text is not None
    assert '"handed_over": true' in response.text
    assert '"leader": "b:1"' in response.text


async def test_the_leadership_view_is_for_loopback_callers_only() -> None:
    leadership = FakeLeadership()
    refused = await call("10.244.1.7", leadership, "GET", f"{LEADERSHIP_PATH}?within=0")
    assert refused.status == 403
    # A view other than the one the caller knows is answered at once, with the epoch.
    response = await call("127.0.0.1", leadership, "GET", f"{LEADERSHIP_PATH}?known=x")
    assert response.status == 200 and response.text is not None
    view = LeadershipView.from_json(json.loads(response.text))
    assert (view.leads, view.leader, view.epoch) == (True, "a:1", 7)
    # Once the primary handed over, a worker that knew the old view learns the new one.
    leadership.handovers = 1
    path = f"{LEADERSHIP_PATH}?known={quote(view.key)}&within=5"
    response = await call("::1", leadership, "GET", path)
    assert response.text is not None
    moved = LeadershipView.from_json(json.loads(response.text))
    assert (moved.leads, moved.leader, moved.leader_url, moved.epoch) == (
        False,
        "b:1",
        "http://b:51080",
        None,
    )
