"""Every message type any pycolonies release on PyPI sends, and every one the 2023 reference
names, has a server-side handler: read from the releases' own source, so a type a new
release adds (or a route a merge drops) fails here instead of in a user's hands."""

from __future__ import annotations

import re

import pytest

import colonies_ha.api.app  # noqa: F401  (registers every handler in ROUTES)
from colonies_ha.api.dispatch import ROUTES
from colonies_ha.api.handlers_channels import SUBSCRIBE_CHANNEL
from colonies_ha.api.pubsub import SUBSCRIBE_PROCESS, SUBSCRIBE_PROCESSES
from tests.pycolonies_sdk import ALL_SDK_VERSIONS, install_sdks, sdk_dir

# Every type the 2023 wire-protocol reference names (a closed list: that generation is frozen).
TYPES_2023 = frozenset(
    {
        "addattributemsg",
        "addchildmsg",
        "addcolonymsg",
        "addcronmsg",
        "addexecutormsg",
        "addfunctionmsg",
        "addgeneratormsg",
        "approveexecutormsg",
        "assignprocessmsg",
        "closefailedmsg",
        "closesuccessfulmsg",
        "deleteallprocessesmsg",
        "deleteallprocessgraphsmsg",
        "deletecolonymsg",
        "deletecronmsg",
        "deleteexecutormsg",
        "deletefunctionmsg",
        "deletegeneratormsg",
        "deleteprocessgraphmsg",
        "deleteprocessmsg",
        "getattributemsg",
        "getclustermsg",
        "getcoloniesmsg",
        "getcolonymsg",
        "getcolonystatsmsg",
        "getcronmsg",
        "getcronsmsg",
        "getexecutormsg",
        "getexecutorsmsg",
        "getfunctionsmsg",
        "getgeneratormsg",
        "getgeneratorsmsg",
        "getprocessesmsg",
        "getprocessgraphmsg",
        "getprocessgraphsmsg",
        "getprocesshistmsg",
        "getprocessmsg",
        "getstatisticsmsg",
        "packgeneratormsg",
        "rejectexecutormsg",
        "resolvegeneratormsg",
        "runcronmsg",
        "submitfuncspecmsg",
        "submitworkflowspecmsg",
        "subscribeprocessesmsg",
        "subscribeprocessmsg",
        "versionmsg",
    }
)
WEBSOCKET_TYPES = frozenset({SUBSCRIBE_PROCESS, SUBSCRIBE_PROCESSES, SUBSCRIBE_CHANNEL})
_MSGTYPE = re.compile(r'"msgtype"\s*:\s*"([a-z]+msg)"')


def sent_by(release: str) -> set[str]:
    return set(_MSGTYPE.findall((sdk_dir(release) / "pycolonies.py").read_text()))


def unserved(types: set[str]) -> list[str]:
    return sorted(t for t in types if t not in ROUTES and t not in WEBSOCKET_TYPES)


@pytest.fixture(scope="module", autouse=True)
def releases() -> None:
    install_sdks(ALL_SDK_VERSIONS)


@pytest.mark.parametrize("release", ALL_SDK_VERSIONS)
def test_every_type_a_release_sends_is_served(release: str) -> None:
    types = sent_by(release)
    assert len(types) >= 25, f"the msgtype pattern no longer reads {release}'s source"
    assert unserved(types) == []


def test_the_newest_release_is_read_whole() -> None:
    """A control on the pattern: 1.0.25 sends 68 types, among them the channel stream."""
    types = sent_by("1.0.25")
    assert len(types) == 68 and "subscribechannelmsg" in types


def test_a_dropped_route_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(ROUTES, "removecronmsg")
    assert unserved(sent_by("1.0.25")) == ["removecronmsg"]


def test_every_2023_type_is_served() -> None:
    assert unserved(set(TYPES_2023)) == []
