"""The Helm chart's values: what each one changes in the rendered objects (rendered by kubedrift's own
Helm support, as an Argo CD app of this chart would be)."""

from __future__ import annotations

import base64
import re

import yaml

from tests.deploy.manifests import ALERTS, CHART, agent_container, chart, config_document


def test_the_default_install_is_read_only_without_monitoring_objects() -> None:
    install = chart()
    assert sorted(set(install.kinds)) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    ]
    assert [role["metadata"]["name"] for role in install.of_kind("ClusterRole")] == ["kubedrift-read"]


def test_writes_add_the_write_role_and_keep_the_users_agent_settings() -> None:
    config = {
        "agent": {"allowWrites": False, "leaseNamespace": "leases"},
        "apps": [{"name": "shop", "source": {"repoURL": "https://git.example/shop.git", "path": "."}}],
    }
    install = chart({"writes": {"enabled": True}, "config": config})
    assert {role["metadata"]["name"] for role in install.of_kind("ClusterRole")} == {
        "kubedrift-read",
        "kubedrift-write",
    }
    assert config_document(install) == {
        "agent": {"allowWrites": True, "leaseNamespace": "leases"},
        "apps": config["apps"],
    }


def test_writes_enabled_false_wins_over_allow_writes_in_the_config() -> None:
    install = chart({"config": {"agent": {"allowWrites": True}, "apps": []}})
    assert config_document(install)["agent"] == {"allowWrites": False}
    assert "kubedrift-write" not in {role["metadata"]["name"] for role in install.of_kind("ClusterRole")}


def test_a_changed_config_rolls_the_agents() -> None:
    def checksum(apps: list[dict[str, str]]) -> str:
        template = chart({"config": {"apps": apps}}).one("StatefulSet")["spec"]["template"]
        value = template["metadata"]["annotations"]["checksum/config"]
        assert isinstance(value, str)
        return value

    assert checksum([{"name": "a"}]) != checksum([{"name": "b"}])


def test_shards_set_the_replicas_and_the_shard_count() -> None:
    install = chart({"shards": 4})
    statefulset = install.one("StatefulSet")
    assert statefulset["spec"]["replicas"] == 4
    env = {e["name"]: e["value"] for e in agent_container(install)["env"]}
    assert env["KUBEDRIFT_SHARDS"] == "4"


def test_an_existing_token_secret_is_mounted_and_none_is_made() -> None:
    install = chart({"token": {"existingSecret": "my-token", "key": "bearer"}})
    assert install.of_kind("Secret") == []
    volumes = {v["name"]: v for v in install.one("StatefulSet")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["token"]["secret"] == {
        "secretName": "my-token",
        "items": [{"key": "bearer", "path": "token"}],
    }


def test_a_given_token_goes_into_the_charts_secret() -> None:
    secret = chart({"token": {"value": "s3cret-token"}}).one("Secret", "kubedrift-token")
    assert base64.b64decode(secret["data"]["token"]).decode() == "s3cret-token"


def test_without_a_token_a_random_one_is_generated() -> None:
    secret = chart().one("Secret", "kubedrift-token")
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{48}", token)


def test_tls_mounts_the_certificate_and_serves_https() -> None:
    install = chart({"tls": {"secretName": "agent-tls"}, "serviceMonitor": {"enabled": True}})
    container = agent_container(install)
    assert "--tls-cert=/var/run/kubedrift/tls/tls.crt" in container["args"]
    assert "--tls-key=/var/run/kubedrift/tls/tls.key" in container["args"]
    volumes = {v["name"]: v for v in install.one("StatefulSet")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "agent-tls"
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/var/run/kubedrift/tls"}
    endpoint = install.one("ServiceMonitor")["spec"]["endpoints"][0]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {
        "ca": {"secret": {"name": "agent-tls", "key": "ca.crt"}},
        "serverName": "kubedrift.kubedrift.svc",
    }


def test_service_monitor_and_rule_labels_reach_prometheus_selectors() -> None:
    install = chart(
        {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}, "interval": "15s"},
            "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
        }
    )
    monitor = install.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["interval"] == "15s"
    assert install.one("PrometheusRule")["metadata"]["labels"]["release"] == "prometheus"


def test_another_release_name_prefixes_every_cluster_wide_name() -> None:
    install = chart({"writes": {"enabled": True}}, release="prod", namespace="ops")
    cluster_wide = [obj["metadata"]["name"] for obj in install.objects if obj["kind"].startswith("Cluster")]
    assert cluster_wide and all(name.startswith("prod-kubedrift-") for name in cluster_wide)
    assert install.one("StatefulSet")["spec"]["serviceName"] == "prod-kubedrift-headless"


def test_scheduling_values_reach_the_pod() -> None:
    toleration = {"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}
    install = chart(
        {
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [toleration],
            "image": {"repository": "registry.example/kubedrift", "tag": "9.9.9"},
            "resources": {"requests": {"cpu": "1"}},
        }
    )
    pod = install.one("StatefulSet")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"] == [toleration]
    container = agent_container(install)
    assert container["image"] == "registry.example/kubedrift:9.9.9"
    # Helm merges values: the default memory request and limit stay.
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "256Mi"},
        "limits": {"memory": "1Gi"},
    }


def test_the_charts_alerts_file_is_deploy_prometheus_alerts_yaml() -> None:
    copy = CHART / "files" / "alerts.yaml"
    assert yaml.safe_load(copy.read_text()) == yaml.safe_load(ALERTS.read_text())
    assert copy.read_bytes() == ALERTS.read_bytes(), (
        "files/alerts.yaml differs from deploy/prometheus/alerts.yaml"
    )


def test_the_lease_role_goes_where_the_config_puts_the_leases() -> None:
    install = chart({"config": {"agent": {"leaseNamespace": "leases"}, "apps": []}})
    assert install.one("Role")["metadata"]["namespace"] == "leases"
    binding = install.one("RoleBinding")
    assert binding["metadata"]["namespace"] == "leases"
    # The agent itself stays in the release namespace.
    assert binding["subjects"][0]["namespace"] == "kubedrift"
