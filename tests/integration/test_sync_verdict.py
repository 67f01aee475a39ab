"""After a sync, against the sandbox: drift rule 7 kept by construction, and adopting `kubectl apply`.

- A field another manager forces back after every apply stays OutOfSync with the same changes: the
  resource is marked `sync changes nothing` with that manager's name, self-heal leaves it alone,
  and `kubedrift sync` exits 1 listing it (never 0).
- An object made with client-side `kubectl apply` is taken over: a key Git dropped is really gone
  after `kubedrift sync`, `kubectl diff --server-side` shows nothing, and `check` says Synced.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from core.cluster import ClusterAdapter, _json_of
from core.config import load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import ResourceKey, SyncStatus
from core.operations import sync_now
from sandbox.handle import SandboxThread
from tests.integration.gitops import commit_file, deploy, make_gitops, shop_config
from tests.live_run import LiveRun
from tui.cli import main

CONFIG_KEY = ResourceKey("", "ConfigMap", "shop", "web-config")
KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.31")
REVERTER = "policy-webhook"


def force_as(adapter: ClusterAdapter, manager: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A server-side apply of `obj` by another manager, forcing conflicts: it takes the fields over."""
    resource = adapter.resource_for("", obj["kind"])
    path = resource.path(obj["metadata"]["namespace"], obj["metadata"]["name"])
    query = {"fieldManager": manager, "force": "true"}
    response = adapter._request(
        "PATCH", path, query=query, body=obj, content_type="application/apply-patch+yaml"
    )
    return _json_of(response)


def revert_log_level(adapter: ClusterAdapter) -> dict[str, Any]:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-config", "namespace": "shop"},
        "data": {"LOG_LEVEL": "debug"},
    }
    return force_as(adapter, REVERTER, body)


@pytest.fixture
def reverting_apply(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Every apply of web-config is followed by another manager forcing LOG_LEVEL back, as a policy
    controller would; the answer is the object as it then stands. Set `on` to False to pause it."""
    original = ClusterAdapter.apply
    switch = {"on": True, "later": False}

    def apply(self: ClusterAdapter, obj: Any, *, dry_run: bool = False, force: bool = True) -> Any:
        answer = original(self, obj, dry_run=dry_run, force=force)
        if switch["on"] and not dry_run and ResourceKey.of(obj) == CONFIG_KEY:
            if switch["later"]:  # a controller that reverts it a moment later: the answer is Synced
                threading.Timer(0.3, revert_log_level, (self,)).start()
                return answer
            return revert_log_level(self)
        return answer

    monkeypatch.setattr(ClusterAdapter, "apply", apply)
    return switch


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def test_a_sync_that_changes_nothing_is_marked_and_self_heal_leaves_it(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, state_home: Path, reverting_apply: None
) -> None:
    config = shop_config(tmp_path)
    deploy(adapter, config)
    revert_log_level(adapter)
    engine = Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}), base_dir=tmp_path)
    engine.evaluate()
    runtime = engine.apps["shop"]
    before = runtime.reconciler.results[CONFIG_KEY]
    assert before.status is SyncStatus.OUT_OF_SYNC and not before.sync_changes_nothing

    result = sync_now(engine, "shop")
    assert not result.failed
    runtime.take_sync_verdicts()
    (leftover,) = runtime.leftovers
    assert leftover.key == CONFIG_KEY and leftover.unchanged_by_sync
    assert f"/data/LOG_LEVEL kept by {REVERTER}" in leftover.reason
    marked = runtime.reconciler.results[CONFIG_KEY]
    assert marked.status is SyncStatus.OUT_OF_SYNC  # the JSON contract: still OutOfSync
    assert marked.sync_changes_nothing and REVERTER in marked.reason
    assert "reason" not in marked.to_json()

    engine.automation.synced_revisions["shop"] = runtime.desired.revision or ""
    self_heal = engine.automation.next_action(
        runtime.app.__class__(**{**_fields(runtime.app), "sync_policy": _healing()}),
        runtime.desired.revision,
        True,
        runtime.reconciler.results,
        now=0.0,
    )
    assert self_heal is None, "self-heal must not retry what a sync changes nothing for"


@pytest.mark.parametrize("later", [False, True], ids=["reverted-in-the-answer", "reverted-a-moment-later"])
def test_self_heal_in_the_live_engine_tries_once_then_leaves_it_and_the_marking_is_published(
    later: bool,
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    sandbox: SandboxThread,
    state_home: Path,
    reverting_apply: dict[str, bool],
) -> None:
    config = shop_config(tmp_path, extra_config="    syncPolicy: {automated: {selfHeal: true}}\n")
    reverting_apply["on"] = False
    deploy(adapter, config)  # in sync at start
    engine = Engine(config, load_kubeconfig(str(kubeconfig_path), environ={}), base_dir=tmp_path)

    def applies() -> list[str]:
        return [
            r.path
            for r in sandbox.request_log
            if r.method == "PATCH" and r.query.get("fieldManager") == "kubedrift" and "dryRun" not in r.query
        ]

    def marked(change: Any) -> bool:
        result = engine.apps["shop"].reconciler.results.get(CONFIG_KEY)
        return (
            getattr(change, "key", None) == CONFIG_KEY and result is not None and result.sync_changes_nothing
        )

    with LiveRun(engine) as run:
        deadline = time.monotonic() + 10
        while "shop" not in engine.automation.synced_revisions and time.monotonic() < deadline:
            time.sleep(0.05)  # the revision in sync at start is noted as synced: no auto-sync
        reverting_apply.update(on=True, later=later)
        sandbox.faults.clear_request_log()
        revert_log_level(adapter)  # drift by another manager: self-heal's to re-apply
        run.wait_for(marked, timeout=10)
        time.sleep(7)  # past the backoff's 2 s and 6 s: without the marking it would apply again
        assert applies() == ["/api/v1/namespaces/shop/configmaps/web-config"]
        result = engine.apps["shop"].reconciler.results[CONFIG_KEY]
        assert result.status is SyncStatus.OUT_OF_SYNC and REVERTER in result.reason


def test_kubedrift_sync_exits_1_and_lists_what_stays_out_of_sync(
    tmp_path: Path,
    adapter: ClusterAdapter,
    kubeconfig_path: Path,
    state_home: Path,
    reverting_apply: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = shop_config(tmp_path)
    deploy(adapter, config)
    revert_log_level(adapter)
    argv = ["--config", str(tmp_path / "kubedrift.yaml"), "--kubeconfig", str(kubeconfig_path)]
    code = main([*argv, "sync", "shop", "--yes"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "1 still OutOfSync after the sync:" in out
    assert "ConfigMap/shop/web-config  OutOfSync  (sync changes nothing: /data/LOG_LEVEL kept by" in out

    # A later `check` (another run) shows the marking; the JSON other tools read keeps its shape.
    assert main([*argv, "check"]) == 1
    out = capsys.readouterr().out
    assert "shop: ConfigMap/shop/web-config  OutOfSync (sync changes nothing)  (sync changes nothing:" in out
    assert main([*argv, "check", "-o", "json"]) == 1
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    (config_map,) = [r for r in app["resources"] if r["kind"] == "ConfigMap" and r["name"] == "web-config"]
    assert config_map["status"] == "OutOfSync"
    assert set(config_map) == {"group", "version", "kind", "namespace", "name", "status", "health", "changes"}
    kept = (state_home / "kubedrift" / "sync-changes-nothing.json").read_text()
    assert "debug" not in kept and "info" not in kept  # digests, never values

    # Git changes: the marking is lifted.
    text = (
        (tmp_path / "gitops/apps/shop/config.yaml").read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: warn")
    )
    commit_file(tmp_path / "gitops", "apps/shop/config.yaml", text, "warn")
    assert main([*argv, "check"]) == 1
    assert "sync changes nothing" not in capsys.readouterr().out


def test_kubedrift_sync_exits_2_and_lists_a_render_error(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, state_home: Path, capsys: Any
) -> None:
    config_path = make_gitops(tmp_path)
    deploy(adapter, load_config(config_path))
    commit_file(tmp_path / "gitops", "apps/shop/broken.yaml", "kind: [unclosed\n", "broken")
    code = main(["--config", str(config_path), "--kubeconfig", str(kubeconfig_path), "sync", "shop", "--yes"])
    out = capsys.readouterr().out
    assert code == 2, out
    assert "shop: render error:" in out and "broken.yaml" in out


def _fields(app: Any) -> dict[str, Any]:
    return {name: getattr(app, name) for name in app.__dataclass_fields__}


def _healing() -> Any:
    from core.model import SyncPolicy

    return SyncPolicy(automated=True, self_heal=True)


# Adopting objects made with client-side `kubectl apply`.

CONFIG_MAP = textwrap.dedent("""\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: web-config
      namespace: shop
    data:
      LOG_LEVEL: info
      FEATURE_FLAGS: "checkout,search"
    """)


def kubectl(
    home: Path, kubeconfig: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run(
        [str(KUBECTL), *args], input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
    )


def live_config_map(home: Path, kubeconfig: Path) -> dict[str, Any]:
    args = ("get", "configmap", "web-config", "-n", "shop", "-o", "json", "--show-managed-fields")
    obj: dict[str, Any] = json.loads(kubectl(home, kubeconfig, *args).stdout)
    return obj


@pytest.mark.skipif(shutil.which(str(KUBECTL)) is None, reason=f"{KUBECTL} is not installed")
def test_sync_removes_a_key_git_dropped_from_an_object_made_with_kubectl_apply(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, state_home: Path, capsys: Any
) -> None:
    config_path = make_gitops(tmp_path)
    home = tmp_path / "kubectl-home"
    home.mkdir()
    adapter.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    with_old_key = CONFIG_MAP + "  OLD_KEY: legacy\n"
    done = kubectl(home, kubeconfig_path, "apply", "-f", "-", stdin=with_old_key)
    assert done.returncode == 0, done.stderr
    managers = [
        (e["manager"], e["operation"])
        for e in live_config_map(home, kubeconfig_path)["metadata"]["managedFields"]
    ]
    assert ("kubectl-client-side-apply", "Update") in managers

    argv = ["--config", str(config_path), "--kubeconfig", str(kubeconfig_path)]
    # Drift rule 7 before the sync too: check names the key, and the dry run says it would go.
    assert main([*argv, "check", "--app", "shop", "-o", "json"]) == 1
    (app,) = json.loads(capsys.readouterr().out)["apps"]
    (config_map,) = [r for r in app["resources"] if r["kind"] == "ConfigMap" and r["name"] == "web-config"]
    assert [change["path"] for change in config_map["changes"]] == ["/data/OLD_KEY"]
    code = main([*argv, "sync", "shop", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "would take over the fields `kubectl apply` (client-side) owns and remove /data/OLD_KEY" in out
    assert live_config_map(home, kubeconfig_path)["data"]["OLD_KEY"] == "legacy", "a dry run writes nothing"

    code = main([*argv, "sync", "shop", "--yes"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "took over the fields `kubectl apply` (client-side) owned" in out

    obj = live_config_map(home, kubeconfig_path)
    assert obj["data"] == {"LOG_LEVEL": "info", "FEATURE_FLAGS": "checkout,search"}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (
        obj["metadata"].get("annotations") or {}
    )
    managers = [(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]]
    assert ("kubectl-client-side-apply", "Update") not in managers and ("kubedrift", "Apply") in managers

    diff = kubectl(
        home, kubeconfig_path, "diff", "--server-side", "--force-conflicts", "-f", "-", stdin=CONFIG_MAP
    )
    assert diff.returncode == 0 and diff.stdout == "", diff.stdout + diff.stderr

    assert main([*argv, "check", "--app", "shop"]) == 0
    out = capsys.readouterr().out
    assert "shop  Synced" in out


@pytest.mark.skipif(shutil.which(str(KUBECTL)) is None, reason=f"{KUBECTL} is not installed")
def test_sync_removes_a_sidecar_and_an_env_var_git_dropped_from_a_deployment_made_with_kubectl_apply(
    tmp_path: Path, adapter: ClusterAdapter, kubeconfig_path: Path, state_home: Path, capsys: Any
) -> None:
    config_path = make_gitops(tmp_path)
    home = tmp_path / "kubectl-home"
    home.mkdir()
    adapter.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    web = (tmp_path / "gitops" / "apps" / "shop" / "web.yaml").read_text()
    deployment = web.split("---")[0]
    before = (
        deployment.replace(
            "            - {name: LOG_LEVEL, value: info}\n",
            "            - {name: LOG_LEVEL, value: info}\n            - {name: DEBUG, value: '1'}\n",
        )
        + "        - {name: sidecar, image: busybox:1.36}\n"
    )
    done = kubectl(home, kubeconfig_path, "apply", "-n", "shop", "-f", "-", stdin=before)
    assert done.returncode == 0, done.stderr

    argv = ["--config", str(config_path), "--kubeconfig", str(kubeconfig_path)]
    code = main([*argv, "sync", "shop", "--yes"])
    out, err = capsys.readouterr()
    assert code == 0, out + err

    got = kubectl(home, kubeconfig_path, "get", "deployment", "web", "-n", "shop", "-o", "json")
    containers = json.loads(got.stdout)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]
    assert containers[0]["env"] == [{"name": "LOG_LEVEL", "value": "info"}]
    diff = kubectl(
        home,
        kubeconfig_path,
        "diff",
        "--server-side",
        "--force-conflicts",
        "-n",
        "shop",
        "-f",
        "-",
        stdin=deployment,
    )
    assert diff.returncode == 0 and diff.stdout == "", diff.stdout + diff.stderr
    assert main([*argv, "check", "--app", "shop"]) == 0, capsys.readouterr().out
