"""The diff pane shows a file in a ConfigMap that changed by one line as that one line, coloured like
every other diff line, the way `kubedrift diff` and `kubectl diff` show it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kubernetes import client

from core.cluster import ClusterAdapter
from core.config import Config
from core.kubeconfig import load_kubeconfig
from core.model import ResourceKey
from tests.integration.gitops import tracked
from tests.tui.conftest import git, wait_until
from tests.tui.test_app_screen import diff_text, label_of, open_app, select, tree_of
from tests.unit.test_multiline_diff import NGINX, NGINX_EDITED
from tui.app import KubedriftApp
from tui.settings import TuiSettings
from tui.status_text import Tone, tone_style
from tui.widgets.diff_view import DiffView

NGINX_KEY = ResourceKey("", "ConfigMap", "shop", "nginx")
SIZE = (120, 40)


def add_nginx_config(config: Config, kubeconfig_path: Path) -> client.CoreV1Api:
    """Git and the cluster both get the nginx ConfigMap, tracked for shop, before the app starts."""
    assert config.path is not None
    repo = config.path.parent / "gitops"
    body = "".join(f"    {line}\n" if line else "\n" for line in NGINX.splitlines())
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nginx\ndata:\n  nginx.conf: |\n" + body
    (repo / "apps" / "shop" / "nginx.yaml").write_text(manifest)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "nginx config")
    api = load_kubeconfig(str(kubeconfig_path), environ={}).api_client("sandbox")
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "nginx", "namespace": "shop"},
        "data": {"nginx.conf": NGINX},
    }
    ClusterAdapter(api, context="sandbox").apply(tracked("shop", obj))
    return client.CoreV1Api(api)


async def test_a_one_line_change_in_a_file_shows_as_one_coloured_pair(
    settings_for: Callable[..., TuiSettings], config: Config, kubeconfig_path: Path
) -> None:
    core = add_nginx_config(config, kubeconfig_path)
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        await select(pilot, screen, NGINX_KEY)
        assert "In sync with Git" in diff_text(screen)

        core.patch_namespaced_config_map("nginx", "shop", {"data": {"nginx.conf": NGINX_EDITED}})

        await wait_until(pilot, lambda: "OutOfSync" in label_of(tree_of(screen), NGINX_KEY), "the drift")
        await wait_until(pilot, lambda: "128;" in diff_text(screen), "the diff to follow")
        lines = diff_text(screen).splitlines()
        changed = [line for line in lines if line[:1] in "-+"]
        assert changed == ["-        map_hash_bucket_size_20 128;", "+        map_hash_bucket_size_20 64;"]
        at = lines.index(changed[0])
        assert lines[at - 1] == "         map_hash_bucket_size_19 64;", "context above, as diff -u gives"
        assert lines[at - 4].startswith("@@ ")
        assert "Drift at /data/nginx.conf: - live, + Git; a sync applies the + lines." in lines

        view = screen.query_one(DiffView)
        variables = app.theme_variables
        for line, tone in zip(changed, (Tone.BAD, Tone.GOOD), strict=True):
            strip = next(s for s in view.lines if s.text.startswith(line))
            colours = {segment.style.color for segment in strip if segment.text.strip() and segment.style}
            assert colours == {tone_style(tone, variables).color}, line
