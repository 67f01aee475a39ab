"""The kustomize base and the writes component, built by kubedrift's own kustomize support."""

from __future__ import annotations

from pathlib import Path

import yaml

from core.config import load_config
from tests.deploy.manifests import (
    ALERTS,
    BASE,
    KUSTOMIZE,
    agent_container,
    config_document,
    kustomize,
    kustomize_folder,
)


def test_the_base_holds_the_namespace_and_everything_the_agent_needs_but_its_token() -> None:
    install = kustomize()
    assert sorted(set(install.kinds)) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Namespace",
        "PrometheusRule",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "StatefulSet",
    ]
    assert install.one("Namespace")["metadata"]["name"] == "kubedrift"
    # The token is a Secret the admin creates (deploy/README.md): never a value committed to Git.
    assert install.of_kind("Secret") == []
    volumes = {v["name"]: v for v in install.one("StatefulSet")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["token"]["secret"]["secretName"] == "kubedrift-token"


def test_the_writes_component_adds_the_write_role_and_changes_nothing_else_but_the_config() -> None:
    base, writes = kustomize(), kustomize(writes=True)
    added = {(o["kind"], o["metadata"]["name"]) for o in writes.objects} - {
        (o["kind"], o["metadata"]["name"]) for o in base.objects
    }
    assert {key for key in added if key[0] != "ConfigMap"} == {
        ("ClusterRole", "kubedrift-write"),
        ("ClusterRoleBinding", "kubedrift-write"),
    }
    # Only the first line, the agent: line, of kubedrift.yaml changes; the apps stay.
    before, after = config_document(base), config_document(writes)
    assert before.pop("agent") == {"allowWrites": False}
    assert after.pop("agent") == {"allowWrites": True}
    assert before == after
    # A new ConfigMap name (its hash), so the agents roll when writes are turned on.
    assert [c["metadata"]["name"] for c in base.of_kind("ConfigMap")] != [
        c["metadata"]["name"] for c in writes.of_kind("ConfigMap")
    ]


def test_the_writes_overlay_is_the_base_with_the_component() -> None:
    assert kustomize_folder(KUSTOMIZE / "overlays" / "writes") == kustomize(writes=True).objects


def test_replicas_set_on_the_base_carry_the_shard_count() -> None:
    install = kustomize(replicas=3)
    assert install.one("StatefulSet")["spec"]["replicas"] == 3
    env = {e["name"]: e["value"] for e in agent_container(install)["env"]}
    assert env["KUBEDRIFT_SHARDS"] == "3"


def test_the_config_map_is_a_kubedrift_yaml_kubedrift_reads(tmp_path: Path) -> None:
    for install in (kustomize(), kustomize(writes=True)):
        folder = tmp_path / install.name.replace(" ", "-")
        folder.mkdir()
        path = folder / "kubedrift.yaml"
        path.write_text(yaml.safe_dump(config_document(install)))
        config = load_config(path, environ={})
        assert config.agent.allow_writes is install.writes
        assert [app.name for app in config.apps] == ["guestbook"]


def test_the_base_prometheus_rule_is_alerts_yaml() -> None:
    rule = yaml.safe_load((BASE / "prometheusrule.yaml").read_text())
    assert rule["spec"] == yaml.safe_load(ALERTS.read_text())
