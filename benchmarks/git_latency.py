"""`git_commit_to_drift_p50_ms`: a one-file commit in a local repository, until the engine publishes
the new verdict.

A Git repository of the first manifests of the fleet (2,000 in the default run) is one app in a
kubedrift.yaml, watched live by the engine as `kubedrift watch` does: a local repository's refs
are followed with watchfiles, and a load re-renders only the files that changed. Each sample
edits one ConfigMap's file (a data value, so the live object no longer matches), commits it with
`git commit`, and is timed from the moment that command returned (the ref has moved) until the
engine publishes the resource's new verdict. Samples alternate drift and repair. The live objects
are the fleet's, tracked for the fleet's app; for this app they are simply desired and live.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fixtures import dump, file_name, git, with_drift_value, write_repository
from benchmarks.fleet import Fleet
from benchmarks.live_engine import EngineThread
from benchmarks.summary import Summary, summarise
from core.config import load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import ResourceKey, SyncStatus

APP_NAME = "git-fleet"
APP_PATH = "apps/fleet"
SAMPLE_TIMEOUT = 10.0
START_TIMEOUT = 600.0
PAUSE_SECONDS = 0.3
"""Between samples, so one commit's file events are not debounced together with the next's."""


@dataclass(frozen=True, slots=True)
class GitLatency:
    manifests: int
    latency: Summary
    """Seconds from `git commit` returning to the published verdict."""
    commit: Summary
    """Seconds `git add` + `git commit` took (not part of `latency`)."""
    start_seconds: float
    timeouts: int


def write_git_app(root: Path, fleet: Fleet, count: int) -> Path:
    """The repository of the fleet's first `count` manifests, and a kubedrift.yaml; returns its path."""
    write_repository(root / "gitops", fleet.manifests[:count], path=APP_PATH)
    config = root / "kubedrift.yaml"
    config.write_text(
        "apps:\n"
        f"  - name: {APP_NAME}\n"
        f"    source: {{repoURL: ./gitops, targetRevision: main, path: {APP_PATH}, "
        "directory: {recurse: true}}\n"  # the fleet's manifests are in a folder per namespace
        "    destination: {namespace: default}\n"
    )
    return config


def measure_git_latency(root: Path, fleet: Fleet, count: int, samples: int) -> GitLatency:
    count = min(count, len(fleet.manifests))
    config_path = write_git_app(root, fleet, count)
    repo = root / "gitops"
    config = load_config(config_path)
    engine = Engine(
        config,
        load_kubeconfig(str(fleet.kubeconfig), environ={}),
        base_dir=config_path.parent,
        cache_dir=root / "cache",
        watch_tree=True,
    )
    configmaps = [i for i, obj in enumerate(fleet.manifests[:count]) if obj["kind"] == "ConfigMap"]
    latencies: list[float] = []
    commits: list[float] = []
    timeouts = 0
    with EngineThread(engine) as run:
        start_seconds = run.wait_started(START_TIMEOUT)
        errors = engine.apps[APP_NAME].desired.errors
        if errors:  # every sample would only time out: say why instead
            raise RuntimeError(f"the Git app did not render: {errors[0]}")
        time.sleep(1.0)
        for sample in range(samples):
            index = configmaps[(sample // 2 * 7) % len(configmaps)]
            drifted = sample % 2 == 0
            obj = fleet.manifests[index]
            text = dump(with_drift_value(obj, f"from-git-{sample}") if drifted else obj)
            time.sleep(PAUSE_SECONDS)
            committed, took = _commit(repo, f"{APP_PATH}/{file_name(obj)}", text, f"sample {sample}")
            commits.append(took)
            status = SyncStatus.OUT_OF_SYNC if drifted else SyncStatus.SYNCED
            published = run.wait_for(ResourceKey.of(obj), status, committed, SAMPLE_TIMEOUT)
            if published is None:
                timeouts += 1
                latencies.append(SAMPLE_TIMEOUT)
            else:
                latencies.append(max(0.0, published - committed))
    return GitLatency(count, summarise(latencies), summarise(commits), start_seconds, timeouts)


def _commit(repo: Path, relative: str, text: str, message: str) -> tuple[float, float]:
    """Write, stage and commit one file; (perf_counter when the commit returned, seconds it took)."""
    (repo / relative).write_text(text)
    start = time.perf_counter()
    git(repo, "add", relative)
    git(repo, "commit", "-q", "-m", message)
    done = time.perf_counter()
    return done, done - start
