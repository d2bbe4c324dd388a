"""How replicas serve the dashboard's files (no browser needed)."""

from __future__ import annotations

import aiohttp

from tests.helpers import ServerEnv


async def test_dashboard_files_are_served_with_a_strict_policy(server: ServerEnv) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/", allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == "/dashboard/"
        async with http.get(f"{server.url}/dashboard/") as response:
            assert response.status == 200
            assert "js/app.js" in await response.text()
            policy = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
            # Requests and the /pubsub WebSocket go to this replica only ('self' covers ws:).
            assert "connect-src 'self';" in policy and "ws:" not in policy
        for path in ("js/app.js", "vendor/noble-secp256k1/index.js"):
            async with http.get(f"{server.url}/dashboard/{path}") as response:
                assert response.status == 200
                assert response.content_type == "text/javascript"  # ES modules need it
        for path in ("../pyproject.toml", "%2e%2e/__init__.py", "missing.js"):
            async with http.get(f"{server.url}/dashboard/{path}") as response:
                assert response.status == 404
