"""The web dashboard in headless Chromium: signing, a live process timeline, a live DAG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from colonies_ha.client import ColoniesClient
from tests.browser.conftest import screenshot_path
from tests.helpers import ColonyEnv, ServerEnv
from tests.integration.test_workflows import compute, diamond

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures/crypto_vectors.json").read_text())

# Runs in the page: the dashboard's own crypto module against every vector.
CHECK_VECTORS_JS = """
async (vectors) => {
  const c = await import('/dashboard/js/crypto.js');
  const out = [];
  for (const v of vectors.vectors) {
    out.push(['id', v.label, c.idOfPrivateKey(v.prvkey), v.id]);
    for (const [name, s] of Object.entries(v.signatures)) {
      out.push(['sha3', name, c.sha3Hex(s.message), s.sha3_256]);
      out.push(['sign', `${v.label}/${name}`, c.sign(s.message, v.prvkey), s.signature]);
    }
    const env = v.envelope_for_sdk_example;
    out.push(['envelope', v.label, c.sign(env.payload, v.prvkey), env.signature]);
  }
  const ref = vectors.upstream_reference_vectors;
  const ident = ref.pycolonies_test_crypto_id;
  out.push(['upstream id', '', c.idOfPrivateKey(ident.prvkey), ident.id]);
  const hello = ref.pycolonies_test_crypto_sign_hello;
  out.push(['upstream sign', '', c.sign(hello.message, hello.prvkey), hello.signature]);
  out.push(['not keccak', '', c.sha3Hex('hello'), vectors.sha3_256_hex.hello]);
  return out;
}
"""


async def log_in(page: Page, server: ServerEnv, prvkey: str, colonyid: str = "") -> None:
    await page.goto(f"{server.url}/dashboard/")
    await page.fill("#login-key", prvkey)
    await page.fill("#login-colony", colonyid)
    await page.click("#login-submit")
    await expect(page.locator("#logout")).to_be_visible()
    await expect(page.locator("#live-status")).to_have_text("live")
    # Survives only as long as the document does: proves later updates came without reload.
    await page.evaluate("window.__sameDocument = true")


async def still_same_document(page: Page) -> None:
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"


async def test_page_signing_reproduces_every_crypto_vector(page: Page, server: ServerEnv) -> None:
    await page.goto(f"{server.url}/dashboard/")
    results: list[list[Any]] = await page.evaluate(CHECK_VECTORS_JS, VECTORS)
    assert len(results) == 3 * (1 + 3 + 3 + 1) + 3
    mismatches = [r for r in results if r[2] != r[3]]
    assert not mismatches


async def test_process_moves_waiting_running_successful_live(page: Page, colony: ColonyEnv) -> None:
    server = colony.server
    await log_in(page, server, colony.executor.prvkey)
    await page.click("nav >> text=Processes")
    await expect(page.locator("#processes")).to_be_visible()

    process = await colony.executor.submit(colony.spec("echo", args=["parcel"]))
    row = page.locator(f"#processes tr[data-processid='{process['processid']}']")
    await expect(row).to_be_visible()  # pushed by the subscribeprocessesmsg stream
    await row.locator("a").click()
    state = page.locator("#process-state")
    await expect(state).to_have_text("waiting")
    await expect(page.locator("#timeline li[data-step='submitted']")).to_have_class("done")

    assigned = await colony.executor.assign(colony.colonyid, 5)
    assert assigned["processid"] == process["processid"]
    await expect(state).to_have_text("running")
    await expect(page.locator("#timeline li[data-step='assigned']")).to_have_class("done")
    await colony.executor.add_attribute(process["processid"], "progress", "half way")

    await colony.executor.close(process["processid"], ["delivered"])
    await expect(state).to_have_text("successful")
    await expect(page.locator("#timeline li[data-step='closed']")).to_have_class("done")
    await expect(page.locator("#process-out")).to_contain_text("delivered")
    await expect(page.locator("table.list")).to_contain_text("half way")
    await still_same_document(page)
    await page.screenshot(path=screenshot_path("dashboard-process.png"), full_page=True)


async def run_one(executor: ColoniesClient, colonyid: str, *, close: bool = True) -> dict:
    process = await executor.assign(colonyid, 5)
    if close:
        await executor.close(process["processid"], compute(process))
    return process


async def test_diamond_workflow_dag_shows_live_node_states(page: Page, colony: ColonyEnv) -> None:
    gen, square, summer = [await colony.new_executor(t) for t in ("gen", "square", "sum")]
    graph = await colony.executor.submit_workflow(colony.colonyid, diamond(colony))
    await log_in(page, colony.server, colony.executor.prvkey, colony.colonyid)
    await page.goto(f"{colony.server.url}/dashboard/#/workflow/{graph['processgraphid']}")
    await page.evaluate("window.__sameDocument = true")

    nodes = page.locator("#dag svg g.node")
    await expect(nodes).to_have_count(4)
    await expect(page.locator("#dag svg path.edge")).to_have_count(4)
    node = {
        name: page.locator(f"#dag g.node[data-nodename='{name}']")
        for name in ("gen_nums", "square0", "square1", "sum")
    }
    for locator in node.values():
        await expect(locator).to_have_attribute("data-state", "waiting")

    await run_one(gen, colony.colonyid)
    await expect(node["gen_nums"]).to_have_attribute("data-state", "successful")
    running = await run_one(square, colony.colonyid, close=False)
    running_node = node[running["spec"]["nodename"]]
    await expect(running_node).to_have_attribute("data-state", "running")
    await expect(page.locator("#workflow-state")).to_have_text("running")
    await page.screenshot(path=screenshot_path("dashboard-workflow.png"), full_page=True)

    await square.close(running["processid"], compute(running))
    await run_one(square, colony.colonyid)
    await run_one(summer, colony.colonyid)
    for locator in node.values():
        await expect(locator).to_have_attribute("data-state", "successful")
    await expect(page.locator("#workflow-state")).to_have_text("successful")
    await still_same_document(page)
    await page.screenshot(path=screenshot_path("dashboard-workflow-done.png"), full_page=True)


async def test_keys_decide_what_the_dashboard_shows(page: Page, colony: ColonyEnv) -> None:
    server = colony.server
    await page.goto(f"{server.url}/")  # redirects to /dashboard/
    await page.fill("#login-key", "ab" * 32)  # a key nobody registered
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_contain_text("not the server owner's key")

    await page.fill("#login-key", server.server_prvkey)
    await page.click("#login-submit")
    await expect(page.locator("#colonies")).to_contain_text(colony.colonyid)
    await expect(page.locator("#live-status")).to_contain_text("refreshing every")
    await page.click("nav >> text=Cluster")
    await expect(page.locator("#cluster tbody tr")).to_have_count(1)
    await page.click("#logout")

    await page.fill("#login-key", colony.colony_prvkey)
    await page.fill("#login-colony", colony.colonyid)
    await page.click("#login-submit")
    # The colony's owner gets the colony's process streams: live, not polling.
    await expect(page.locator("#live-status")).to_have_text("live")
    await page.click("nav >> text=Executors")
    await expect(page.locator("#executors tbody tr")).to_have_count(1)
    await page.click("nav >> text=Cluster")
    await expect(page.locator("#cluster-needs-server-key")).to_be_visible()
    # Only members (executors, users) may read a single process: the refusal is shown as it is.
    process = await colony.executor.submit(colony.spec())
    await page.goto(f"{server.url}/dashboard/#/process/{process['processid']}")
    await expect(page.locator(".error-box")).to_contain_text("is not an executor or user of colony")
