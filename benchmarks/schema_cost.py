"""What the schema model costs, and how many dry-run applies the opt-in server-side diff sends.

Not budgets of their own (DESIGN's budgets are met with the schema in use; these lines say what it
adds): issue 12 asks for the first-use cost of the schema and for the server-side diff's call count.

- First use, official: reading one release's definitions from kubernetes-validate and typing the
  fleet's kinds, in a fresh process's state (the module caches cleared).
- First use, cluster: the index and one /openapi/v3 document per group-version of the fleet, fetched
  from the fleet's sandbox and converted; then the same kinds again, warm.
- Server-side diff: one engine pass over the fleet with `compareOptions: {serverSideDiff: true}` and
  `drifted` objects changed by hand; the dry-run applies it sent, against the resources it judged.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from benchmarks.fleet import Fleet
from core.cluster import ClusterAdapter
from core.config import zero_config
from core.drift import schema_source
from core.drift.cluster_schema import (
    cluster_schema_source,
    forget_documents,
    group_versions,
    read_server_version,
)
from core.drift.schema_source import split_api_version
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import SyncStatus
from core.schema import official
from sandbox.handle import SandboxThread


@dataclass(frozen=True, slots=True)
class SchemaCost:
    kinds: int
    official_first_seconds: float
    cluster_first_seconds: float
    cluster_documents: int
    cluster_warm_seconds: float


@dataclass(frozen=True, slots=True)
class ServerSideDiffCalls:
    resources: int
    drifted: int
    out_of_sync: int
    dry_runs: int


def measure_schema_cost(fleet: Fleet) -> SchemaCost:
    kinds = {(m["apiVersion"], m["kind"]) for m in fleet.manifests}
    for cached in (official.releases, official.release_for, official.raw_definitions, official._load):
        cached.cache_clear()
    schema_source.default_schema_source.cache_clear()
    started = time.perf_counter()
    source = schema_source.OfficialSchemaSource(schema_source.DEFAULT_MINOR)
    for api_version, kind in kinds:
        source.kind_type(*split_api_version(api_version), kind)
    official_first = time.perf_counter() - started

    forget_documents()
    kubeconfig = load_kubeconfig(str(fleet.kubeconfig), environ={})
    adapter = ClusterAdapter(kubeconfig.api_client(kubeconfig.current_context or "sandbox"), context="bench")
    started = time.perf_counter()
    cluster = cluster_schema_source(adapter, read_server_version(adapter))
    cluster.prefetch(group_versions(fleet.manifests))
    for api_version, kind in kinds:
        cluster.kind_type(*split_api_version(api_version), kind)
    cluster_first = time.perf_counter() - started
    started = time.perf_counter()
    warm = cluster_schema_source(
        adapter, read_server_version(adapter)
    )  # a second source of the same server: shared documents
    for api_version, kind in kinds:
        warm.kind_type(*split_api_version(api_version), kind)
    cluster_warm = time.perf_counter() - started
    return SchemaCost(len(kinds), official_first, cluster_first, cluster.stats.documents, cluster_warm)


def count_server_side_diff_calls(fleet: Fleet, drifted: int) -> ServerSideDiffCalls:
    targets = fleet.drift_targets(drifted, seed=12)
    for index in targets:
        fleet.set_drift(index, True)
    try:
        config = zero_config(fleet.folder)
        app = dataclasses.replace(config.apps[0], server_side_diff=True)
        engine = Engine(
            dataclasses.replace(config, apps=(app,)),
            load_kubeconfig(str(fleet.kubeconfig), environ={}),
            watch_tree=False,
        )
        sandbox = fleet.sandbox
        assert isinstance(sandbox, SandboxThread), "the request log is read in-process"
        sandbox.faults.clear_request_log()
        (status,) = engine.evaluate()
        dry_runs = sum(
            1
            for record in sandbox.request_log
            if record.method == "PATCH" and record.query.get("dryRun") == "All"
        )
        out_of_sync = sum(1 for r in status.resources if r.status is SyncStatus.OUT_OF_SYNC)
        return ServerSideDiffCalls(len(status.resources), len(targets), out_of_sync, dry_runs)
    finally:
        for index in targets:
            fleet.set_drift(index, False)
