"""What every headless command does first: find the config, the kubeconfig, and build the engine."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from core.config import Config, find_config, load_config, zero_config
from core.engine import Engine
from core.errors import ConfigError
from core.kubeconfig import load_kubeconfig
from core.shared_resources import with_neighbours


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """--config, --kubeconfig, --context and --read-only, accepted before or after the command."""
    parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="kubedrift.yaml to use")
    parser.add_argument("--kubeconfig", metavar="FILE", default=argparse.SUPPRESS, help="kubeconfig to use")
    parser.add_argument("--context", metavar="NAME", default=argparse.SUPPRESS, help="kubeconfig context")
    parser.add_argument(
        "--read-only", action="store_true", default=argparse.SUPPRESS, help="never write to any cluster"
    )


def load_settings(args: argparse.Namespace) -> Config:
    """The config named by --config / $KUBEDRIFT_CONFIG / ./kubedrift.yaml, or a folder (zero-config)."""
    folder = getattr(args, "path", None)
    if folder:
        return zero_config(Path(folder))
    found = find_config(getattr(args, "config", None), os.environ, Path.cwd())
    if found is None:
        raise ConfigError(
            "no kubedrift.yaml here: pass --config FILE, set KUBEDRIFT_CONFIG, "
            "give a folder of manifests (kubedrift PATH), or try `kubedrift demo`"
        )
    # An include may read apps from a cluster: through the same kubeconfig and context as the apps.
    return load_config(
        found, kubeconfig=getattr(args, "kubeconfig", None), context=getattr(args, "context", None)
    )


def only_app(config: Config, name: str | None) -> Config:
    """The config narrowed to `--app NAME`; an unknown name is a one-sentence error."""
    if name is None:
        return config
    apps = tuple(app for app in config.apps if app.name == name)
    if not apps:
        known = ", ".join(app.name for app in config.apps) or "none"
        raise ConfigError(f"there is no app named {name!r} (apps: {known}): check --app")
    return dataclasses.replace(config, apps=apps)


def build_engine(args: argparse.Namespace, config: Config, *, watch_tree: bool = False) -> Engine:
    kubeconfig = load_kubeconfig(getattr(args, "kubeconfig", None))
    base_dir = config.path.parent if config.path is not None else None
    return Engine(
        config,
        kubeconfig,
        context=getattr(args, "context", None),
        read_only=bool(getattr(args, "read_only", False)),
        base_dir=base_dir,
        watch_tree=watch_tree,
    )


def build_engine_for_app(
    args: argparse.Namespace, config: Config, app: str | None, *, watch_tree: bool = False
) -> Engine:
    """The engine for a command about one app (`--app NAME`, `sync APP`), or about every app.

    The app comes with the other apps on its cluster, detect-only: they are needed to tell which of
    its objects they declare too (core.shared_resources). The command shows and acts on `app` alone.
    """
    only_app(config, app)  # an unknown name is one sentence, before anything is read
    if app is not None:
        kubeconfig = load_kubeconfig(getattr(args, "kubeconfig", None))
        config = with_neighbours(config, kubeconfig, app, getattr(args, "context", None))
    engine = build_engine(args, config, watch_tree=watch_tree)
    engine.acting_on = app  # the neighbours' child apps (app of apps) are detect-only too
    return engine
