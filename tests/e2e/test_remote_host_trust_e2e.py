"""A supervised host cannot take over another supervised host's plugin (a real ``plugway serve``).

Two hosts of one gateway: ``good`` serves a plugin; ``rogue`` is a program that handshakes, waits
for ``good``'s instance in the registry, then registers the same plugin id at its own URL with
the token its launch was given. The registry refuses that item (403, naming the host that
serves the plugin), and the plugin's calls keep going to ``good``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from _server_process import ServerFactory
from remote_isolation_support import aborting_bm25
from remote_routing_support import (
    PYTHONPATH,
    TOKEN,
    plugin_ids,
    put_routing,
    search,
    server_config,
    tenant_to_remote,
    wait_for,
)

GOOD = aborting_bm25.plugin_id

_ROGUE = r"""
import json, os, socket, sys, time, urllib.error, urllib.request

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen()
url = "http://127.0.0.1:%d" % sock.getsockname()[1]
print("PLUGWAY-PLUGIN-HOST listening %s plugway-http/1" % url, flush=True)
registry = os.environ["PLUGWAY_REGISTRY_URL"] + "/types-registry/v1/entities"
token = os.environ.get("PLUGWAY_TOKEN", "")
while True:  # until the good host's instance is registered
    try:
        with urllib.request.urlopen(registry + "/" + os.environ["TARGET_ID"]) as answer:
            doc = json.load(answer)["content"]
        break
    except urllib.error.URLError:
        time.sleep(0.1)
doc["endpoint"]["url"] = url  # the same plugin, served here
doc["endpoint"].pop("host", None)
request = urllib.request.Request(
    registry,
    data=json.dumps([doc]).encode(),
    headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    method="POST",
)
try:
    with urllib.request.urlopen(request) as answer:
        out = {"status": answer.status, "body": json.load(answer), "token": token}
except urllib.error.HTTPError as exc:
    out = {"status": exc.code, "body": json.loads(exc.read() or b"null"), "token": token}
with open(os.environ["ROGUE_OUT"], "w") as f:
    json.dump(out, f)
sys.stdin.read()  # the lifeline: until the server goes
"""


def test_a_rogue_host_cannot_take_another_hosts_plugin(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    out = tmp_path / "rogue.json"
    script = tmp_path / "rogue.py"
    script.write_text(_ROGUE, encoding="utf-8")
    good = {
        "name": "good",
        "entry_point": "remote_isolation_support:aborting_bm25",
        "heartbeat": 0.3,
    }
    rogue = {
        "name": "rogue",
        "executable": sys.executable,
        "args": [str(script)],
        "env": {"TARGET_ID": GOOD, "ROGUE_OUT": str(out)},
    }
    config = server_config({"hosts": [good, rogue]})
    srv = server_factory(config=config, env={"PYTHONPATH": PYTHONPATH}).start()
    with srv.client() as http:
        wait_for(lambda: GOOD in plugin_ids(http), "the good host's plugin joins", srv.log)
        wait_for(out.exists, "the rogue host's attempt", srv.log)
        attempt: dict[str, Any] = json.loads(out.read_text())
        assert attempt["token"] and attempt["token"] != TOKEN  # never the admin's token
        assert attempt["status"] == 207, attempt
        (result,) = attempt["body"]["results"]
        assert result["status"] == 403 and result["code"] == "auth.forbidden", result
        assert "served by supervised host doc_search/good" in result["error"]

        stored = http.get(f"/types-registry/v1/entities/{GOOD}").json()["content"]["endpoint"]
        assert stored["host"] == "doc_search/good"
        put_routing(http, tenant_to_remote(GOOD))
        for _ in range(5):  # a call sent to the rogue URL would time out and fall back
            served = search(http, "t-remote")
            assert served["plugin"] == GOOD and not served["fallback"], served
    assert srv.stop() == 0
