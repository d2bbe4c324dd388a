"""/local/handover (the preStop hook's way in) serves loopback callers and nobody else."""

from __future__ import annotations

from typing import Any, cast
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from colonies_ha.api.local import HANDOVER_PATH, add_local_routes, is_loopback
from colonies_ha.services.context import Context


class FakeLeadership:
    """Leads as a:1 until asked to hand over, then b:1 leads."""

    def __init__(self) -> None:
        self.handovers = 0

    def status(self) -> dict[str, Any]:
        return {"self": "a:1", "leader": self.leader_address()}

    def leader_address(self) -> str:
        return "b:1" if self.handovers else "a:1"

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


async def call(remote: str, leadership: FakeLeadership) -> web.Response:
    app = web.Application()
    add_local_routes(app, cast(Context, mock.Mock(leadership=leadership)))
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        (remote, 40000) if key == "peername" else default
    )
    request = make_mocked_request("POST", HANDOVER_PATH, app=app, transport=transport)
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
