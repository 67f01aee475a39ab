"""A diff opened on an object the cache keeps cut down (core.live_projection) shows the whole object.

The tree's Pods are cached as their metadata, status and restart policy: their containers, images
and node are not kept. Opening one reads it whole with one GET off the UI thread, and the pane
shows what only the whole object says.
"""

from __future__ import annotations

from collections.abc import Callable

from core.model import ResourceKey
from tests.tui.conftest import wait_until
from tests.tui.test_app_screen import WEB, diff_text, node_of, open_app, select, tree_of
from tests.tui.test_dashboard import SIZE
from tui.app import KubedriftApp
from tui.settings import TuiSettings


async def test_an_owned_pod_cut_down_in_the_cache_shows_its_whole_object(
    settings_for: Callable[..., TuiSettings],
) -> None:
    app = KubedriftApp(settings_for())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, "shop")
        tree = tree_of(screen)

        def pods() -> list[ResourceKey]:
            found: list[ResourceKey] = []
            web = node_of(tree, WEB)
            for replica_set in [] if web is None else web.children:
                found += [c.data.key for c in replica_set.children if getattr(c.data, "key", None)]
            return [key for key in found if key.kind == "Pod"]

        await wait_until(pilot, lambda: bool(pods()), "the Deployment's Pods in the tree")
        pod = pods()[0]
        cached = app.engine.live_object("shop", pod)
        assert cached is not None and app.engine.is_cut_down("shop", pod)
        assert "containers" not in cached.get("spec", {}), "the cache keeps no containers of a Pod"
        await select(pilot, screen, pod)
        await wait_until(
            pilot,
            lambda: "image: ghcr.io/acme/web:" in diff_text(screen) and "ready: " in diff_text(screen),
            "the Pod's images, read whole",
        )
        assert "/1 containers" in diff_text(screen) or "/2 containers" in diff_text(screen)
