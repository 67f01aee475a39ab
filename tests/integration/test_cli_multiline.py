"""A file in a ConfigMap changed by one line in the cluster: `kubedrift diff` and `check` show that
line, as `kubectl diff` would, not the whole file as one string."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from core.cluster import ClusterAdapter
from core.kubeconfig import load_kubeconfig
from core.model import ResourceKey
from tests.integration.gitops import commit_file, tracked
from tests.integration.test_cli import kubedrift, workdir
from tests.unit.test_multiline_diff import NGINX, NGINX_EDITED

__all__ = ["workdir"]  # the fixture, shared with test_cli

MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nginx\ndata:\n  nginx.conf: |\n"


def test_diff_and_check_show_the_one_changed_line_of_a_file(
    workdir: Path, kubeconfig_path: Path, adapter: ClusterAdapter
) -> None:
    body = "".join(f"    {line}\n" if line else "\n" for line in NGINX.splitlines())
    commit_file(workdir / "gitops", "apps/shop/nginx.yaml", MANIFEST + body, "nginx config")
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "nginx", "namespace": "shop"},
        "data": {"nginx.conf": NGINX},
    }
    adapter.apply(tracked("shop", obj))
    core = client.CoreV1Api(load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox"))
    core.patch_namespaced_config_map("nginx", "shop", {"data": {"nginx.conf": NGINX_EDITED}})

    done = kubedrift(workdir, kubeconfig_path, "diff", "--app", "shop")
    assert done.returncode == 1, done.stdout + done.stderr
    key = ResourceKey("", "ConfigMap", "shop", "nginx")
    block = done.stdout.split(f"=== shop: {key} (OutOfSync)\n", 1)[1].split("===", 1)[0]
    changed = [line for line in block.splitlines() if line[:1] in "-+" and line[:3] not in ("---", "+++")]
    assert changed == ["-        map_hash_bucket_size_20 128;", "+        map_hash_bucket_size_20 64;"]
    assert "         map_hash_bucket_size_19 64;" in block.splitlines(), "context, as diff -u gives"

    check = kubedrift(workdir, kubeconfig_path, "check")
    assert check.returncode == 1, check.stdout + check.stderr
    lines = check.stdout.splitlines()
    # The head names who changed the value (the Python client's patch): `(changed by ..., Update, ...)`.
    (head,) = [line for line in lines if line.startswith("    /data/nginx.conf: (- live, + desired)")]
    assert head.endswith(")") and "(changed by " in head
    assert "      -    map_hash_bucket_size_20 128;" in lines
    assert "      +    map_hash_bucket_size_20 64;" in lines
    assert "\\n" not in check.stdout
