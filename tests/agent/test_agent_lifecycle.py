"""Agents of their own: readiness before the first statuses, the retained window, keep-alives, TLS,
and an agent kubedrift.yaml lets write."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.service import AgentService
from tests.agent.agent_thread import AgentThread, wait_for
from tests.agent.conftest import ShopCluster


def test_not_ready_until_the_first_statuses_are_published(shop: ShopCluster) -> None:
    gate = threading.Event()

    def gated(service: AgentService) -> None:
        run = service.engine.run

        async def run_after_gate(publish, stop):  # type: ignore[no-untyped-def]
            import asyncio

            await asyncio.to_thread(gate.wait, 30)
            await run(publish, stop)

        service.engine.run = run_after_gate  # type: ignore[method-assign]

    with AgentThread(shop.config, shop.kubeconfig, before_run=gated) as agent:
        waiting = agent.request("/readyz", token=None)
        assert waiting.status == 503
        assert "starting" in waiting.body.decode()
        assert agent.request("/healthz", token=None).status == 200, "alive while not ready"
        early = agent.request("/api/v1/status")
        assert (early.status, early.headers["Retry-After"]) == (503, "1")
        gate.set()
        agent.wait_ready()
        assert agent.request("/api/v1/status").json()["apps"][0]["name"] == "shop"


def test_a_reader_older_than_the_window_is_told_to_refetch(shop: ShopCluster) -> None:
    with AgentThread(shop.config, shop.kubeconfig, retained_lines=2) as agent:
        agent.wait_ready()
        kept = agent.open_stream("?since=0")
        assert kept.next_line()["seq"] == 1, "the first line is still kept"
        kept.close()
        core = shop.core_api()
        core.patch_namespaced_config_map("web-config", "shop", {"data": {"FEATURE_FLAGS": "none"}})
        try:  # the ConfigMap's line and the app's: three lines, two kept
            wait_for(lambda: agent.service.stream.last >= 3, "the ConfigMap's drift to be published")
            gone = agent.request("/api/v1/watch?since=0")
            assert gone.status == 410
            body = gone.json()
            assert (body["oldest"], body["sequence"]) == (
                agent.service.stream.oldest,
                agent.service.stream.last,
            )
            assert body["oldest"] > 1
            assert "fetch /api/v1/status" in body["error"]

            status = agent.request("/api/v1/status").json()
            resumed = agent.open_stream(f"?since={status['sequence'] - 1}")
            assert resumed.next_line()["seq"] == status["sequence"]
            resumed.close()
        finally:
            core.patch_namespaced_config_map(
                "web-config", "shop", {"data": {"FEATURE_FLAGS": "checkout,search"}}
            )


def test_keep_alives_and_the_app_filter(shop: ShopCluster) -> None:
    with AgentThread(shop.config, shop.kubeconfig, keepalive_seconds=0.05) as agent:
        agent.wait_ready()
        assert agent.service.stream.last >= 1
        other = agent.open_stream("?since=0&app=other")
        # The shop lines kept are skipped for this reader: it sees only the greeting and keep-alives.
        assert [other.response.readline() for _ in range(3)] == [b"\n", b"\n", b"\n"]
        other.close()
        events = agent.open_stream("?since=0&app=shop&format=sse")
        event_id, first = events.next_event()
        assert (event_id, first["app"], first["seq"]) == ("1", "shop", 1)
        while len(events.comments) < 2:
            raw = events.response.readline()
            assert raw.startswith(b":") or not raw.strip(), raw
            if raw.startswith(b":"):
                events.comments.append(raw)
        events.close()


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    request = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
    names = "subjectAltName=IP:127.0.0.1"
    command = ["openssl", *request.split(), "-addext", names, "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    yield cert, key


def test_https_with_a_self_signed_certificate(shop: ShopCluster, self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    with AgentThread(shop.config, shop.kubeconfig, tls=server) as agent:
        assert agent.url.startswith("https://127.0.0.1:")
        trusting = ssl.create_default_context(cafile=str(cert))
        reply = agent.request("/healthz", token=None, context=trusting)
        assert (reply.status, reply.body) == (200, b"ok")
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            agent.request("/healthz", token=None, context=ssl.create_default_context())


def test_an_agent_allowed_to_write_syncs_drift_away(fresh_shop: ShopCluster, state_home: Path) -> None:
    config_path = fresh_shop.with_config("agent: {allowWrites: true}\n", "writes")
    from core.config import load_config

    with AgentThread(load_config(config_path), fresh_shop.kubeconfig, identity="writer") as agent:
        agent.wait_ready()
        assert agent.request("/api/v1/status").json()["agent"]["readOnly"] is False
        fresh_shop.apps_api().patch_namespaced_deployment("web", "shop", {"spec": {"replicas": 7}})
        app = "/api/v1/apps/shop"
        wait_for(lambda: agent.request(app).json()["sync"] == "OutOfSync", "the drift to be seen")

        dry = agent.request(f"{app}/sync", method="POST", body={"dryRun": True})
        assert dry.status == 200, dry.body
        assert dry.json()["result"]["dryRun"] is True
        assert agent.request(app).json()["sync"] == "OutOfSync", "a dry run changes nothing"

        synced = agent.request(f"{app}/sync", method="POST", body={"prune": False})
        assert synced.status == 200, synced.body
        result = synced.json()["result"]
        assert result["ok"] is True
        web = next(r for r in result["resources"] if r["kind"] == "Deployment")
        assert web["action"] == "configured"
        assert result["message"].startswith("synced shop to ")
        live = fresh_shop.apps_api().read_namespaced_deployment("web", "shop")
        assert live.spec.replicas == 2
        wait_for(lambda: agent.request(app).json()["sync"] == "Synced", "the sync to come back by the watch")
        audited = [
            json.loads(line) for line in (state_home / "kubedrift" / "audit.jsonl").read_text().splitlines()
        ]
        assert [(r["app"], r["operation"]) for r in audited] == [("shop", "sync"), ("shop", "sync")]

        policy = agent.request(f"{app}/policy", method="POST", body={"selfHeal": True, "automated": True})
        assert policy.status == 200, policy.body
        assert policy.json() == {
            "app": "shop",
            "policy": {"automated": True, "selfHeal": True, "prune": False},
        }
        assert agent.on_loop(lambda: agent.service.engine.apps["shop"].app.sync_policy.self_heal) is True
        bad = agent.request(f"{app}/policy", method="POST", body={"selfHeal": "yes"})
        assert (bad.status, bad.json()["error"]) == (400, "selfHeal must be a bool, not str")


def test_a_stop_does_not_wait_on_an_engine_stuck_in_a_call(
    shop: ShopCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agent.service.STOP_GRACE_SECONDS", 0.1)
    stuck = threading.Event()

    def stuck_in_connect(service: AgentService) -> None:
        async def never_answers(publish, stop):  # type: ignore[no-untyped-def]
            import asyncio

            await asyncio.to_thread(stuck.wait, 30)  # as a cluster that does not answer a connect

        service.engine.run = never_answers  # type: ignore[method-assign]

    agent = AgentThread(shop.config, shop.kubeconfig, before_run=stuck_in_connect)
    try:
        assert agent.request("/readyz", token=None).status == 503
        agent.stop()
        assert agent.stopped and agent.service.abandoned
        assert agent.service.stream.closed
    finally:
        stuck.set()
