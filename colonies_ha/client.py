"""A small signing client for colonies-ha (and any Colonies server).

Used by the CLI, the tests and the benchmarks.  One `aiohttp` session is shared by all
the keys a program acts with: `client.with_key(prvkey)` returns a view signing with
another key.

Wherever a colony or an executor is named, an id (64 hex characters) is sent as the 2023
generation's `colonyid`/`executorid` and anything else as the newest generation's
`colonyname`/`executorname`; an executor by name needs its colony's name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from colonies_ha.domain.errors import ColoniesError
from colonies_ha.protocol.crypto import id_of_private_key, is_hex64
from colonies_ha.protocol.envelope import decode_reply, encode_request

Json = dict[str, Any]


def colony_field(colony: str) -> Json:
    """{"colonyid": id} for a 64-hex id, else {"colonyname": name}."""
    return {"colonyid": colony} if is_hex64(colony) else {"colonyname": colony}


def executor_fields(executor: str, colony: str = "") -> Json:
    """An executor by id, or by name within a colony named by name."""
    if is_hex64(executor):
        return {"executorid": executor}
    if not colony or is_hex64(colony):
        raise ValueError(f"the executor '{executor}' is given by name; give its colony by name too")
    return {"colonyname": colony, "executorname": executor}


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

    async def executor_fields(self, executor: str, colony: str = "") -> Json:
        """An executor by id; by name within a colony named by name (the newest messages);
        or by name within a colony given by id (looked up in the colony's executor list)."""
        if is_hex64(executor):
            return {"executorid": executor}
        if not colony:
            raise ValueError(f"the executor '{executor}' is given by name: name its colony too")
        if not is_hex64(colony):
            return {"colonyname": colony, "executorname": executor}
        for found in await self.get_executors(colony):
            if found["executorname"] == executor:
                return {"executorid": found["executorid"]}
        raise ColoniesError(f"no executor named '{executor}' in colony {colony}")

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

    async def delete_colony(self, colony: str) -> None:
        msgtype = "deletecolonymsg" if is_hex64(colony) else "removecolonymsg"
        await self.rpc(msgtype, **colony_field(colony))

    async def get_colonies(self) -> list[Json]:
        return await self.rpc("getcoloniesmsg")

    async def get_colony(self, colony: str) -> Json:
        return await self.rpc("getcolonymsg", **colony_field(colony))

    async def colony_stats(self, colony: str) -> Json:
        return await self.rpc("getcolonystatsmsg", **colony_field(colony))

    async def server_stats(self) -> Json:
        return await self.rpc("getstatisticsmsg")

    async def add_executor(
        self, executorid: str, colony: str, executortype: str, executorname: str
    ) -> Json:
        return await self.rpc(
            "addexecutormsg",
            executor={
                "executorid": executorid,
                **colony_field(colony),
                "executortype": executortype,
                "executorname": executorname,
            },
        )

    async def approve_executor(self, executor: str, colony: str = "") -> None:
        await self.rpc("approveexecutormsg", **await self.executor_fields(executor, colony))

    async def reject_executor(self, executor: str, colony: str = "") -> None:
        await self.rpc("rejectexecutormsg", **await self.executor_fields(executor, colony))

    async def delete_executor(self, executor: str, colony: str = "") -> None:
        fields = await self.executor_fields(executor, colony)
        msgtype = "deleteexecutormsg" if "executorid" in fields else "removeexecutormsg"
        await self.rpc(msgtype, **fields)

    async def get_executors(self, colony: str) -> list[Json]:
        return await self.rpc("getexecutorsmsg", **colony_field(colony))

    async def get_executor(self, executor: str, colony: str = "") -> Json:
        return await self.rpc("getexecutormsg", **await self.executor_fields(executor, colony))

    async def add_function(
        self, colony: str, funcname: str, *, desc: str = "", args: list[Any] | None = None
    ) -> Json:
        return await self.rpc(
            "addfunctionmsg",
            fun={
                "executorid": self.id,
                **colony_field(colony),
                "funcname": funcname,
                "desc": desc,
                "args": args or [],
            },
        )

    async def get_functions(self, *, colony: str = "", executor: str = "") -> list[Json]:
        fields = colony_field(colony) if colony else {}
        if executor:
            fields.update(await self.executor_fields(executor, colony))
        return await self.rpc("getfunctionsmsg", **fields)

    async def delete_function(self, functionid: str) -> None:
        await self.rpc("deletefunctionmsg", functionid=functionid)

    # -- processes --------------------------------------------------------------------

    async def submit(self, spec: Json) -> Json:
        return await self.rpc("submitfuncspecmsg", spec=spec)

    async def assign(self, colony: str, timeout: int = 10) -> Json:
        return await self.rpc("assignprocessmsg", **colony_field(colony), timeout=timeout)

    async def close(self, processid: str, out: list[Any] | None = None) -> None:
        await self.rpc("closesuccessfulmsg", processid=processid, out=out or [])

    async def fail(self, processid: str, errors: list[str] | None = None) -> None:
        await self.rpc("closefailedmsg", processid=processid, errors=errors or [])

    async def get_process(self, processid: str) -> Json:
        return await self.rpc("getprocessmsg", processid=processid)

    async def get_processes(self, colony: str, state: int, count: int = 100) -> list[Json]:
        return await self.rpc("getprocessesmsg", **colony_field(colony), state=state, count=count)

    async def process_history(
        self, colony: str, state: int, seconds: int, executorid: str = ""
    ) -> list[Json]:
        return await self.rpc(
            "getprocesshistmsg",
            **colony_field(colony),
            state=state,
            seconds=seconds,
            executorid=executorid,
        )

    async def delete_process(self, processid: str) -> None:
        await self.rpc("deleteprocessmsg", processid=processid)

    async def delete_all_processes(self, colony: str) -> None:
        msgtype = "deleteallprocessesmsg" if is_hex64(colony) else "removeallprocessesmsg"
        await self.rpc(msgtype, **colony_field(colony), state=-1)

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

    # -- workflows --------------------------------------------------------------------

    async def submit_workflow(self, colony: str, specs: list[Json]) -> Json:
        return await self.rpc(
            "submitworkflowspecmsg", spec={**colony_field(colony), "functionspecs": specs}
        )

    async def get_processgraph(self, processgraphid: str) -> Json:
        return await self.rpc("getprocessgraphmsg", processgraphid=processgraphid)

    async def get_processgraphs(self, colony: str, state: int, count: int = 100) -> list[Json]:
        return await self.rpc(
            "getprocessgraphsmsg", **colony_field(colony), state=state, count=count
        )

    async def delete_processgraph(self, processgraphid: str) -> None:
        await self.rpc("deleteprocessgraphmsg", processgraphid=processgraphid, all=False)

    async def delete_all_processgraphs(self, colony: str) -> None:
        msgtype = "deleteallprocessgraphsmsg" if is_hex64(colony) else "removeallprocessgraphsmsg"
        await self.rpc(msgtype, **colony_field(colony), state=-1)

    async def add_child(
        self,
        processgraphid: str,
        parentprocessid: str,
        spec: Json,
        *,
        childprocessid: str = "",
        insert: bool = False,
    ) -> Json:
        return await self.rpc(
            "addchildmsg",
            processgraphid=processgraphid,
            parentprocessid=parentprocessid,
            childprocessid=childprocessid,
            spec=spec,
            insert=insert,
        )

    # -- generators and crons ---------------------------------------------------------

    async def add_generator(self, colony: str, name: str, workflowspec: str, trigger: int) -> Json:
        return await self.rpc(
            "addgeneratormsg",
            generator={
                **colony_field(colony),
                "name": name,
                "workflowspec": workflowspec,
                "trigger": trigger,
            },
        )

    async def get_generator(self, generatorid: str) -> Json:
        return await self.rpc("getgeneratormsg", generatorid=generatorid)

    async def resolve_generator(self, generatorname: str) -> Json:
        return await self.rpc("resolvegeneratormsg", generatorname=generatorname)

    async def get_generators(self, colony: str, count: int = 100) -> list[Json]:
        return await self.rpc("getgeneratorsmsg", **colony_field(colony), count=count)

    async def pack_generator(self, generatorid: str, arg: str) -> None:
        await self.rpc("packgeneratormsg", generatorid=generatorid, arg=arg)

    async def delete_generator(self, generatorid: str) -> None:
        await self.rpc("deletegeneratormsg", generatorid=generatorid, all=False)

    async def add_cron(
        self,
        colony: str,
        name: str,
        workflowspec: str,
        *,
        interval: int = -1,
        cronexpression: str = "",
        waitforprevprocessgraph: bool = False,
        random: bool = False,
    ) -> Json:
        return await self.rpc(
            "addcronmsg",
            cron={
                **colony_field(colony),
                "name": name,
                "workflowspec": workflowspec,
                "interval": interval,
                "cronexpression": cronexpression,
                "random": random,
                "waitforprevprocessgraph": waitforprevprocessgraph,
            },
        )

    async def get_cron(self, cronid: str) -> Json:
        return await self.rpc("getcronmsg", cronid=cronid)

    async def get_crons(self, colony: str, count: int = 100) -> list[Json]:
        return await self.rpc("getcronsmsg", **colony_field(colony), count=count)

    async def run_cron(self, cronid: str) -> Json:
        return await self.rpc("runcronmsg", cronid=cronid)

    async def delete_cron(self, cronid: str) -> None:
        await self.rpc("deletecronmsg", cronid=cronid, all=False)

    # -- cluster ----------------------------------------------------------------------

    async def get_cluster(self) -> Json:
        return await self.rpc("getclustermsg")

    # -- subscriptions (WebSocket /pubsub) --------------------------------------------

    async def subscribe_process(
        self, processid: str, executortype: str, state: int, timeout: int
    ) -> Json | None:
        """The process once it reaches `state`, or None if the socket closes first."""
        async for process in self._subscribe(
            {
                "msgtype": "subscribeprocessmsg",
                "processid": processid,
                "executortype": executortype,
                "state": state,
                "timeout": timeout,
            }
        ):
            return process
        return None

    def subscribe_processes(
        self, executortype: str, state: int, timeout: int, colony: str = ""
    ) -> AsyncIterator[Json]:
        """Every process of the colony reaching `state`, until `timeout` s pass: the caller's
        own colony (an executor's, or the owner key's) unless `colony` names one."""
        msg: Json = {
            "msgtype": "subscribeprocessesmsg",
            "executortype": executortype,
            "state": state,
            "timeout": timeout,
        }
        if colony:
            msg.update(colony_field(colony))
        return self._subscribe(msg)

    async def _subscribe(self, msg: Json) -> AsyncIterator[Json]:
        ws_url = self.url.replace("http", "ws", 1) + "/pubsub"
        async with self._http().ws_connect(ws_url) as socket:
            await socket.send_str(encode_request(msg, self.prvkey).decode())
            async for frame in socket:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                yield decode_reply(200, frame.data.encode())


def function_spec(
    colony: str,
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
    """A FunctionSpec with sensible defaults, as clients send it (colony by id or name)."""
    return {
        "nodename": nodename or funcname,
        "funcname": funcname,
        "args": args or [],
        "priority": priority,
        "maxwaittime": maxwaittime,
        "maxexectime": maxexectime,
        "maxretries": maxretries,
        "conditions": {
            **colony_field(colony),
            "executortype": executortype,
            "dependencies": dependencies or [],
        },
        "label": "",
        "env": env or {},
    }
