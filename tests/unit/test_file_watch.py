"""Watching local sources: one watcher for all (roots, routing by path, a live save), shared repositories,
and the cheap check that decides whether a source is loaded again once watching starts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import watchfiles

from core.config import Config
from core.engine import Engine
from core.file_watch import FileWatch, outermost
from core.gitsource import AppSource
from core.model import App, Destination, Source

MODIFIED = watchfiles.Change.modified


def everything(change: watchfiles.Change, path: str) -> bool:
    return True


def test_outermost_drops_folders_inside_another() -> None:
    roots = [Path("/a/b"), Path("/a"), Path("/c/d"), Path("/c/de"), Path("/a/b/c"), Path("/a")]
    assert outermost(roots) == [Path("/a"), Path("/c/d"), Path("/c/de")]


def test_roots_are_the_existing_outermost_folders(tmp_path: Path) -> None:
    (tmp_path / "apps" / "one").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    files = FileWatch()
    for root in ("apps", "apps/one", "other", "missing"):
        files.follow(tmp_path / root, everything, lambda: None)
    assert files.roots == [(tmp_path / "apps").resolve(), (tmp_path / "other").resolve()]


def test_changes_reach_only_the_followers_of_their_folder(tmp_path: Path) -> None:
    heard: list[str] = []
    files = FileWatch()
    files.follow(tmp_path / "apps", everything, lambda: heard.append("apps"))
    files.follow(tmp_path / "apps" / "one", everything, lambda: heard.append("one"))
    files.follow(tmp_path / "apps" / "two", everything, lambda: heard.append("two"))
    yaml_only = lambda change, path: path.endswith(".yaml")  # noqa: E731
    files.follow(tmp_path / "apps" / "one", yaml_only, lambda: heard.append("yaml"))
    one = str(tmp_path.resolve() / "apps" / "one")

    files.deliver({(MODIFIED, f"{one}/a.txt"), (MODIFIED, f"{one}/sub/b.txt")})

    # Each follower once; the yaml-only follower refused both paths.
    assert sorted(heard) == ["apps", "one"]
    heard.clear()
    files.deliver({(MODIFIED, f"{one}/c.yaml")})
    assert sorted(heard) == ["apps", "one", "yaml"]


def test_unfollow_stops_the_notifications(tmp_path: Path) -> None:
    heard: list[str] = []
    files = FileWatch()
    unfollow = files.follow(tmp_path, everything, lambda: heard.append("x"))
    unfollow()
    files.deliver({(MODIFIED, str(tmp_path.resolve() / "a.yaml"))})
    assert heard == [] and files.roots == []


async def test_a_saved_file_notifies_its_follower_through_one_watcher(tmp_path: Path) -> None:
    folders = [tmp_path / f"app-{number}" for number in range(3)]
    for folder in folders:
        folder.mkdir()
    heard: asyncio.Queue[str] = asyncio.Queue()
    files = FileWatch()
    for folder in folders:
        files.follow(folder, everything, lambda name=folder.name: heard.put_nowait(name))
    stop = asyncio.Event()
    watching = asyncio.create_task(files.run(stop))
    try:
        # Saves from the moment `watching` is set on are seen.
        await asyncio.wait_for(files.watching.wait(), timeout=30)
        assert files.roots == sorted(folder.resolve() for folder in folders)
        (folders[1] / "cm.yaml").write_text("kind: ConfigMap\n")
        assert await asyncio.wait_for(heard.get(), timeout=30) == "app-1"
    finally:
        stop.set()
        await asyncio.wait_for(watching, timeout=10)
    assert watching.exception() is None


def test_apps_of_one_repository_share_its_git_repository(tmp_path: Path) -> None:
    repo = tmp_path / "gitops"
    for name in ("shop", "cart"):
        (repo / "apps" / name).mkdir(parents=True)
        (repo / "apps" / name / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{a: '1'}}\n"
        )
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "apps"], check=True)
    apps = tuple(
        App(name, Source("./gitops", "main", f"apps/{name}"), Destination(namespace=name))
        for name in ("shop", "cart")
    )
    engine = Engine(Config(apps=apps), None, base_dir=tmp_path)

    engine.connect()

    shop, cart = (engine.apps[name] for name in ("shop", "cart"))
    assert shop.loader is not None and cart.loader is not None
    assert shop.loader.source.repository is not None
    assert shop.loader.source.repository is cart.loader.source.repository
    assert {key.name for key in shop.desired.objects} == {"shop"}
    assert {key.name for key in cart.desired.objects} == {"cart"}
    shop.loader.source.close()


def test_a_source_may_have_changed_after_a_save_or_a_commit(tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    source = AppSource(Source(str(folder), "", "."))
    assert source.may_have_changed(), "nothing was read yet"
    source.load()
    long_ago = time.time() - 3600
    for path in (folder, folder / "cm.yaml"):
        os.utime(path, (long_ago, long_ago))
    assert not source.may_have_changed()
    (folder / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    assert source.may_have_changed()

    repo = tmp_path / "gitops"
    repo.mkdir()
    (repo / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    tracked = AppSource(Source(str(repo), "main", "."))
    tracked.load()
    assert not tracked.may_have_changed()
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "two"], check=True)
    assert tracked.may_have_changed()
    tracked.close()
