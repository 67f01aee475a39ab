"""The agent's parts without a cluster: the stream's window, the token file, options, Secret masking,
the `agent:` section, shards, and how a sync result reads."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agent.actions import sync_message, sync_result_json
from agent.options import AgentOptions, Listen, default_identity, default_lease_namespace, parse_listen
from agent.resources import SECRET_VALUE_MASK, key_from_path, masked_secret, resource_path
from agent.server import TokenFile
from agent.service import AgentIdentity, AgentService
from agent.stream import LineStream, StreamTooOld
from core.config import load_config
from core.drift.last_applied import LAST_APPLIED
from core.engine import Engine
from core.errors import ConfigError, KubedriftError
from core.model import AppSync, Health, ResourceAction, ResourceKey, ResourceOutcome, SyncResult, SyncStatus
from core.sharding import Shard
from core.status_events import AppStatusChange, ResourceStatusChange, RevisionChange
from tui.cli import main as kubedrift

# The stream.


def filled(retained: int, count: int) -> LineStream:
    stream = LineStream(retained)
    for number in range(count):
        stream.append({"app": "shop", "n": number}, "shop", agent="a")
    return stream


def test_lines_are_numbered_from_one_and_signed() -> None:
    stream = filled(10, 3)
    lines = stream.after(0)
    assert [line.seq for line in lines] == [1, 2, 3]
    assert json.loads(lines[1].body) == {"app": "shop", "n": 1, "seq": 2, "agent": "a"}
    assert [line.seq for line in stream.after(2)] == [3]
    assert stream.after(3) == []


def test_the_window_keeps_the_newest_lines_and_refuses_what_it_dropped() -> None:
    stream = filled(3, 5)
    assert (stream.oldest, stream.last) == (3, 5)
    assert [line.seq for line in stream.after(2)] == [3, 4, 5], "the oldest kept is still reachable"
    with pytest.raises(StreamTooOld) as gone:
        stream.after(1)
    assert (gone.value.oldest, gone.value.last) == (3, 5)
    assert "keeps lines 3 to 5" in str(gone.value)
    with pytest.raises(StreamTooOld, match="restarted"):
        stream.after(6)


def test_an_empty_stream_serves_from_zero() -> None:
    stream = LineStream(2)
    assert (stream.oldest, stream.last, stream.after(0)) == (1, 0, [])


async def test_a_waiting_reader_wakes_on_a_line_and_on_close() -> None:
    stream = filled(5, 1)
    assert await stream.wait_after(0, 1) is True, "a line is there already"
    assert await stream.wait_after(1, 0.01) is False, "nothing came"
    waiting = asyncio.create_task(stream.wait_after(1, 30))
    await asyncio.sleep(0)
    stream.append({"app": "shop"}, "shop")
    assert await waiting is True
    closing = asyncio.create_task(stream.wait_after(2, 30))
    await asyncio.sleep(0)
    stream.close()
    assert await closing is False
    assert stream.closed


# The token file.


def test_the_token_file_is_read_again_only_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  first-token\n")
    tokens = TokenFile(path)
    assert tokens.token() == b"first-token"
    path.write_text("second-token-longer\n")
    assert tokens.token() == b"second-token-longer"
    path.unlink()
    assert tokens.token() == b"second-token-longer", "a rotation in progress keeps the last good token"
    path.write_text("\n")
    assert tokens.token() == b"second-token-longer", "an empty file is no token"


def test_a_token_file_that_cannot_serve_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(KubedriftError, match=r"cannot read the token file .*missing: No such file"):
        TokenFile(tmp_path / "missing")
    (tmp_path / "empty").write_text("   \n")
    with pytest.raises(KubedriftError, match="is empty: put the agent's bearer token in it"):
        TokenFile(tmp_path / "empty")


# Options.


@pytest.mark.parametrize(
    ("text", "listen"),
    [
        ("0.0.0.0:8080", Listen("0.0.0.0", 8080)),
        (":9090", Listen("", 9090)),
        ("[::1]:8443", Listen("::1", 8443)),
        ("localhost:0", Listen("localhost", 0)),
    ],
)
def test_listen_addresses(text: str, listen: Listen) -> None:
    assert parse_listen(text) == listen


@pytest.mark.parametrize("text", ["8080", "host:", "host:port", "1.2.3.4:70000", "::1:80"])
def test_a_bad_listen_address_is_one_sentence(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--listen .* is not HOST:PORT: .*for example 0\.0\.0\.0:8080"):
        parse_listen(text)


def test_listen_urls() -> None:
    assert Listen("", 80).url(8080, tls=False) == "http://0.0.0.0:8080"
    assert Listen("::1", 0).url(4443, tls=True) == "https://[::1]:4443"


def test_a_certificate_needs_its_key() -> None:
    with pytest.raises(ConfigError, match="--tls-key needs --tls-cert too"):
        AgentOptions(Listen("", 0), "a", tls_key=Path("k"))


def test_identity_and_lease_namespace_defaults(tmp_path: Path) -> None:
    assert default_identity({"HOSTNAME": "kubedrift-2"}) == "kubedrift-2"
    assert default_identity({}).endswith(f"-{os.getpid()}")
    namespace_file = tmp_path / "namespace"
    assert default_lease_namespace(None, namespace_file) == "kubedrift"
    namespace_file.write_text("gitops\n")
    assert default_lease_namespace(None, namespace_file) == "gitops"
    assert default_lease_namespace("ops", namespace_file) == "ops", "kubedrift.yaml wins"


# Secrets.


def test_every_secret_value_is_masked_and_the_keys_stay() -> None:
    applied = {"apiVersion": "v1", "kind": "Secret", "stringData": {"password": "plain"}, "type": "Opaque"}
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "annotations": {LAST_APPLIED: json.dumps(applied), "team": "shop"}},
        "data": {"password": "cGxhaW4=", "user": "dXNlcg=="},
        "stringData": {"token": "abc"},
    }
    masked = masked_secret(secret)
    assert masked["data"] == {"password": SECRET_VALUE_MASK, "user": SECRET_VALUE_MASK}
    assert masked["stringData"] == {"token": SECRET_VALUE_MASK}
    annotations = masked["metadata"]["annotations"]
    assert annotations["team"] == "shop"
    assert json.loads(annotations[LAST_APPLIED]) == {**applied, "stringData": {"password": SECRET_VALUE_MASK}}
    assert "plain" not in json.dumps(masked) and "cGxhaW4=" not in json.dumps(masked)
    assert secret["data"]["password"] == "cGxhaW4=", "the cached object is not changed"


def test_a_last_applied_annotation_that_is_not_an_object_is_masked_whole() -> None:
    secret = {"kind": "Secret", "metadata": {"annotations": {LAST_APPLIED: "password=plain"}}}
    assert masked_secret(secret)["metadata"]["annotations"][LAST_APPLIED] == SECRET_VALUE_MASK


@pytest.mark.parametrize(
    ("path", "key"),
    [
        (("core", "Secret", "shop", "db"), ResourceKey("", "Secret", "shop", "db")),
        (("apps", "Deployment", "shop", "web"), ResourceKey("apps", "Deployment", "shop", "web")),
        (("core", "Namespace", "_", "shop"), ResourceKey("", "Namespace", "", "shop")),
    ],
)
def test_resource_paths_name_keys(path: tuple[str, str, str, str], key: ResourceKey) -> None:
    assert key_from_path(*path) == key
    assert resource_path(key) == "/".join(path)


# The `agent:` section.


def write_config(tmp_path: Path, agent: str) -> Path:
    (tmp_path / "apps").mkdir(exist_ok=True)
    path = tmp_path / "kubedrift.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            apps:
              - name: shop
                source: {repoURL: ., path: apps}
            """
        )
        + agent
    )
    return path


def test_the_agent_section_defaults_to_read_only(tmp_path: Path) -> None:
    settings = load_config(write_config(tmp_path, "")).agent
    assert (settings.allow_writes, settings.lease_namespace) == (False, None)
    settings = load_config(write_config(tmp_path, "agent: {allowWrites: true, leaseNamespace: ops}\n")).agent
    assert (settings.allow_writes, settings.lease_namespace) == (True, "ops")


@pytest.mark.parametrize(
    ("section", "sentence"),
    [
        ("agent: {allowWrite: true}\n", r":4: agent: unknown key 'allowWrite'.*did you mean 'allowWrites'\?"),
        ("agent: {allowWrites: 1}\n", r":4: agent\.allowWrites: expected a boolean, got"),
        ("agent: {leaseNamespace: Ops_1}\n", r":4: agent\.leaseNamespace: 'Ops_1' is not a namespace name"),
        ("agent: [x]\n", r":4: agent: expected a mapping"),
    ],
)
def test_a_bad_agent_section_names_file_line_and_field(tmp_path: Path, section: str, sentence: str) -> None:
    with pytest.raises(ConfigError, match=r"kubedrift\.yaml" + sentence):
        load_config(write_config(tmp_path, section))


def write_config_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kubedrift.yaml"
    path.write_text(text)
    return path


# A sync's result.


def test_a_sync_result_reads_as_one_line_and_names_each_resource() -> None:
    web = ResourceKey("apps", "Deployment", "shop", "web")
    config = ResourceKey("", "ConfigMap", "shop", "web-config")
    result = SyncResult(
        "0123456789abcdef0123",
        "2026-01-01T00:00:00.000Z",
        (ResourceOutcome(web, ResourceAction.CONFIGURED), ResourceOutcome(config, ResourceAction.UNCHANGED)),
    )
    assert sync_message("shop", result, ()) == "synced shop to 0123456789ab: 1 configured, 1 unchanged"
    document = sync_result_json("shop", result, ())
    assert document["ok"] is True
    assert document["resources"][0] == {
        "group": "apps",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "action": "configured",
        "message": "",
    }
    failed = SyncResult(
        "0123456789abcdef0123",
        "2026-01-01T00:00:00.000Z",
        (ResourceOutcome(web, ResourceAction.FAILED, "admission webhook said no"),),
        message="wave 0",
    )
    assert sync_message("shop", failed, ()) == "sync of shop at 0123456789ab: 1 failed; stopped at wave 0"
    assert sync_result_json("shop", failed, ())["ok"] is False


# What the engine publishes.


def service_without_clusters(tmp_path: Path) -> AgentService:
    config = load_config(write_config(tmp_path, ""))
    return AgentService(
        Engine(config, None), AgentIdentity("a-1", Shard(0, 2), read_only=True), retained_lines=5
    )


def test_published_transitions_become_numbered_lines_and_the_agent_ready(tmp_path: Path) -> None:
    service = service_without_clusters(tmp_path)
    assert (service.ready, service.stream.last) == (False, 0)
    key = ResourceKey("apps", "Deployment", "shop", "web")
    app = AppStatusChange("t0", "shop", AppSync.SYNCED, Health.HEALTHY, None, None)
    detail_only = ResourceStatusChange(
        "t1", "shop", key, SyncStatus.OUT_OF_SYNC, Health.HEALTHY, SyncStatus.OUT_OF_SYNC, Health.HEALTHY
    )
    moved = ResourceStatusChange(
        "t2", "shop", key, SyncStatus.OUT_OF_SYNC, Health.HEALTHY, SyncStatus.SYNCED, Health.HEALTHY
    )
    service.publish([app, RevisionChange("t1", "shop", "b", "a"), detail_only, moved])
    assert service.ready
    lines = [json.loads(line.body) for line in service.stream.after(0)]
    assert lines == [
        {**app.to_json(), "seq": 1, "agent": "a-1"},
        {**moved.to_json(), "seq": 2, "agent": "a-1"},
    ], "the lines `watch -o jsonl` prints, and no others"
    identity = service.identity.to_json()
    assert identity == {
        "name": "a-1",
        "shard": "0/2",
        "readOnly": True,
        "version": "0.1.0",
        "streamId": service.identity.stream_id,
    }
    assert len(identity["streamId"]) == 16, "random per process: a restarted agent's numbering is told apart"


def test_metrics_that_fail_are_dropped_and_the_engine_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = service_without_clusters(tmp_path)

    class Broken:
        def publish(self, changes: list[Any]) -> None:
            raise ValueError("no such label")

    service.metrics = Broken()  # type: ignore[assignment]
    change = AppStatusChange("t0", "shop", AppSync.SYNCED, Health.HEALTHY, None, None)
    service.publish([change])
    service.publish([change])
    assert (service.metrics, service.stream.last, service.ready) == (None, 2, True)
    said = capsys.readouterr().err.splitlines()
    assert said == [
        "kubedrift agent: the metrics failed and are no longer updated; this is a bug in kubedrift: "
        "ValueError: no such label"
    ]


def test_an_agent_with_a_config_of_agents_alone_says_it_needs_apps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config_text(tmp_path, "agents:\n  - url: http://127.0.0.1:9\n")
    assert kubedrift(["agent", "--config", str(config), "--insecure-no-auth"]) == 2
    assert capsys.readouterr().err == (
        f"kubedrift: {config}: an agent needs apps to watch, and this kubedrift.yaml lists only agents: "
        "give the agent a config with apps:\n"
    )
