"""A small signing client for colonies-ha (and any Colonies 2023 server).

Used by the CLI, the tests and the benchmarks.  One `aiohttp` session is shared by all
the keys a program acts with: `client.with_key(prvkey)` returns a view signing with
another key.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from colonies_ha.domain.errors import ColoniesError
from colonies_ha.protocol.crypto import id_of_private_key
from colonies_ha.protocol.envelope import decode_reply, encode_request

Json = dict[str, Any]


class ColoniesClient:
    def __init__(
        self, url: str, prvkey: str | None = None, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.prvkey = prvkey
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> ColoniesClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the HTTP session (`close` is the protocol's close of a process)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
            )
        return self._session

    def with_key(self, prvkey: str) -> ColoniesClient:
        view = ColoniesClient(self.url, prvkey, session=self._http())
        view._owns_session = False
        return view

    @property
    def id(self) -> str:
        if self.prvkey is None:
            raise ValueError("this client has no private key")
        return id_of_private_key(self.prvkey)

    async def rpc(self, msgtype: str, **fields: Any) -> Any:
        """Send one signed message; returns the reply's value or raises ColoniesError."""
        body = encode_request({"msgtype": msgtype, **fields}, self.prvkey)
        try:
            async with self._http().post(f"{self.url}/api", data=body) as response:
                return decode_reply(response.status, await response.read())
        except aiohttp.ClientError as exc:
            raise ColoniesError(f"cannot reach {self.url}: {exc}") from exc

    # -- colonies and executors -------------------------------------------------------

    async def version(self) -> Json:
        return await self.rpc("versionmsg", buildversion="", buildtime="")

    async def add_colony(self, colonyid: str, name: str) -> Json:
        return await self.rpc("addcolonymsg", colony={"colonyid": colonyid, "name": name})

    async def delete_colony(self, colonyid: str) -> None:
        await self.rpc("deletecolonymsg", colonyid=colonyid)

    async def get_colonies(self) -> list[Json]:
        return await self.rpc("getcoloniesmsg")

    async def get_colony(self, colonyid: str) -> Json:
        return await self.rpc("getcolonymsg", colonyid=colonyid)

    async def colony_stats(self, colonyid: str) -> Json:
        return await self.rpc("getcolonystatsmsg", colonyid=colonyid)

    async def server_stats(self) -> Json:
        return await self.rpc("getstatisticsmsg")

    async def add_executor(
        self, executorid: str, colonyid: str, executortype: str, executorname: str
    ) -> Json:
        return await self.rpc(
            "addexecutormsg",
            executor={
                "executorid": executorid,
                "colonyid": colonyid,
                "executortype": executortype,
                "executorname": executorname,
            },
        )

    async def approve_executor(self, executorid: str) -> None:
        await self.rpc("approveexecutormsg", executorid=executorid)

    async def reject_executor(self, executorid: str) -> None:
        await self.rpc("rejectexecutormsg", executorid=executorid)

    async def delete_executor(self, executorid: str) -> None:
        await self.rpc("deleteexecutormsg", executorid=executorid)

    async def get_executors(self, colonyid: str) -> list[Json]:
        return await self.rpc("getexecutorsmsg", colonyid=colonyid)

    async def get_executor(self, executorid: str) -> Json:
        return await self.rpc("getexecutormsg", executorid=executorid)

    async def add_function(
        self, colonyid: str, funcname: str, *, desc: str = "", args: list[Any] | None = None
    ) -> Json:
        return await self.rpc(
            "addfunctionmsg",
            fun={
                "executorid": self.id,
                "colonyid": colonyid,
                "funcname": funcname,
                "desc": desc,
                "args": args or [],
            },
        )

    async def get_functions(self, *, colonyid: str = "", executorid: str = "") -> list[Json]:
        return await self.rpc("getfunctionsmsg", colonyid=colonyid, executorid=executorid)

    async def delete_function(self, functionid: str) -> None:
        await self.rpc("deletefunctionmsg", functionid=functionid)

    # -- processes --------------------------------------------------------------------

    async def submit(self, spec: Json) -> Json:
        return await self.rpc("submitfuncspecmsg", spec=spec)

    async def assign(self, colonyid: str, timeout: int = 10) -> Json:
        return await self.rpc("assignprocessmsg", colonyid=colonyid, timeout=timeout)

    async def close(self, processid: str, out: list[Any] | None = None) -> None:
        await self.rpc("closesuccessfulmsg", processid=processid, out=out or [])

    async def fail(self, processid: str, errors: list[str] | None = None) -> None:
        await self.rpc("closefailedmsg", processid=processid, errors=errors or [])

    async def get_process(self, processid: str) -> Json:
        return await self.rpc("getprocessmsg", processid=processid)

    async def get_processes(self, colonyid: str, state: int, count: int = 100) -> list[Json]:
        return await self.rpc("getprocessesmsg", colonyid=colonyid, state=state, count=count)

    async def process_history(
        self, colonyid: str, state: int, seconds: int, executorid: str = ""
    ) -> list[Json]:
        return await self.rpc(
            "getprocesshistmsg",
            colonyid=colonyid,
            state=state,
            seconds=seconds,
            executorid=executorid,
        )

    async def delete_process(self, processid: str) -> None:
        await self.rpc("deleteprocessmsg", processid=processid)

    async def delete_all_processes(self, colonyid: str) -> None:
        await self.rpc("deleteallprocessesmsg", colonyid=colonyid)

    async def add_attribute(
        self, processid: str, key: str, value: str, attributetype: int = 1
    ) -> Json:
        return await self.rpc(
            "addattributemsg",
            attribute={
                "targetid": processid,
                "key": key,
                "value": value,
                "attributetype": attributetype,
            },
        )

    async def get_attribute(self, attributeid: str) -> Json:
        return await self.rpc("getattributemsg", attributeid=attributeid)


def function_spec(
    colonyid: str,
    executortype: str,
    funcname: str = "echo",
    *,
    args: list[Any] | None = None,
    priority: int = 0,
    maxexectime: int = -1,
    maxretries: int = 0,
    maxwaittime: int = -1,
    nodename: str = "",
    dependencies: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Json:
    """A FunctionSpec with sensible defaults, as clients send it."""
    return {
        "nodename": nodename or funcname,
        "funcname": funcname,
        "args": args or [],
        "priority": priority,
        "maxwaittime": maxwaittime,
        "maxexectime": maxexectime,
        "maxretries": maxretries,
        "conditions": {
            "colonyid": colonyid,
            "executortype": executortype,
            "dependencies": dependencies or [],
        },
        "label": "",
        "env": env or {},
    }
