"""The real-world drift corpus (tests/fixtures/realworld, issue 12) run live against the sandbox.

For each case, on a fresh in-process sandbox API server:

1. The case's live object is rebuilt the way the case says it was made (tests/realworld_live.py):
   kubedrift's earlier server-side apply, then every other manager's writes in time order with real
   kubectl (`kubectl apply` client-side for an adoption, merge patches by `<manager>`, server-side
   applies, `--subresource=scale`). The rebuilt object must match the case's `live` (its content,
   status and server metadata aside, and kubedrift's managedFields entry, which drift rule 2
   reads), so a replay that built something else fails here instead of passing by accident.
2. `kubedrift check -o json` (in-process) must give the corpus's verdict for the resource: `Synced`
   exactly when the case is in sync, and the same set of change pointers as
   `kubectl diff --server-side --field-manager=kubedrift` would.
3. Drift rule 7: `check` says in sync exactly when `sync --dry-run` changes nothing (every outcome
   `unchanged`), and the dry run writes nothing.

Cases only a mutating webhook decides (`needs_server`) are skipped: the sandbox runs no webhook.
Known disagreements are strict xfails that name the exact cause and the assertion they fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.config import load_config
from core.engine import Engine
from core.kubeconfig import load_kubeconfig
from core.model import ResourceAction, ResourceKey, SyncResult
from core.operations import sync_now
from sandbox.handle import SandboxThread
from tests.kubectl import Kubectl, newest_kubectl
from tests.realworld import APP_NAME, DESTINATION_NAMESPACE, FIELD_MANAGER, RealWorldCase, load_cases
from tests.realworld_live import (
    LEFT_TO_THE_LAST_WRITE,
    UNREPRODUCIBLE,
    Replay,
    applied_by,
    differences,
    owned_paths,
    resolve,
    under,
)
from tui.cli import main

CASES = load_cases()


class VerdictDisagrees(AssertionError):
    """`check -o json` gives another verdict, or other change pointers, than the corpus expects."""


class SyncDisagrees(AssertionError):
    """Drift rule 7 fails: `check` and `sync --dry-run` disagree on whether anything would change."""


# Disagreements that remain with a faithful replay: real bugs, or questions, for core/ or sandbox/.
# Each is strict, and only the named assertion may fail (`raises`): a broken replay still fails.
KNOWN_DISAGREEMENTS: dict[str, tuple[type[AssertionError], str]] = {}


# Cases whose dry-run apply a real API server refuses, which the corpus records: the outcome may be
# `failed` there (a failed outcome is not `unchanged`, so rule 7 still reads it as a change refused).
DRY_RUN_MAY_FAIL: dict[str, str] = {
    "015-pvc-expanded-outside-git": (
        "a claim cannot shrink: Kubernetes answers the dry-run apply of 1Gi over 5Gi with 422 "
        "'field can not be less than previous value' (the corpus's notes); the sandbox accepts it"
    ),
}


def _param(case: RealWorldCase) -> Any:
    if case.needs_server:
        reason = f"needs a mutating webhook, which the sandbox does not run: {case.summary}"
        return pytest.param(case, id=case.id, marks=pytest.mark.skip(reason=reason))
    if case.id in KNOWN_DISAGREEMENTS:
        raises, reason = KNOWN_DISAGREEMENTS[case.id]
        return pytest.param(
            case, id=case.id, marks=pytest.mark.xfail(strict=True, raises=raises, reason=reason)
        )
    return pytest.param(case, id=case.id)


def write_app(root: Path, case: RealWorldCase) -> Path:
    """The case's Git manifest as app `realworld` (a plain folder), and its kubedrift.yaml."""
    (root / "app").mkdir()
    (root / "app" / "manifest.yaml").write_text(case.desired_text)
    config = root / "kubedrift.yaml"
    config.write_text(
        f"apps:\n  - name: {APP_NAME}\n    source: {{repoURL: ., path: app}}\n"
        f"    destination: {{namespace: {DESTINATION_NAMESPACE}}}\n"
    )
    return config


def assert_rebuilt_like_live(case: RealWorldCase, replay: Replay, rebuilt: dict[str, Any]) -> None:
    """The replay built the case's object: its content, and what kubedrift owns. The entries' writes
    must make it, all but what `LEFT_TO_THE_LAST_WRITE` names (an order, which no entry records)."""
    log = "\n".join(replay.steps)
    unreproducible = UNREPRODUCIBLE.get(case.id, {})
    for pointer in case.expected.changes:
        assert not under(pointer, unreproducible), (
            f"{pointer} is left out of the comparison: {unreproducible}"
        )
        assert resolve(rebuilt, pointer) == resolve(case.live, pointer), f"{pointer} differs; replay:\n{log}"
    explained = LEFT_TO_THE_LAST_WRITE.get(case.id, {})
    unexplained = [pointer for pointer in replay.hand_made if not under(pointer, explained)]
    assert unexplained == [], f"the entries' writes did not make {unexplained}; replay:\n{log}"
    left = differences(rebuilt, case.live, skip=unreproducible)
    assert left == [], f"the rebuilt object differs from the case's live object at {left}; replay:\n{log}"
    ours, theirs = (
        owned_paths(applied_by(rebuilt, FIELD_MANAGER)),
        owned_paths(applied_by(case.live, FIELD_MANAGER)),
    )
    assert ours == theirs, (
        f"kubedrift's managedFields entry differs: only rebuilt {sorted(ours - theirs)}, "
        f"only live {sorted(theirs - ours)}; replay:\n{log}"
    )


def check_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """`kubedrift check -o json`, in-process: its exit code and its document."""
    code = main([*argv, "check", "-o", "json"])
    captured = capsys.readouterr()
    assert code in (0, 1), f"check exited {code}:\n{captured.out}\n{captured.err}"
    document: dict[str, Any] = json.loads(captured.out)
    return code, document


def verdict_for(document: dict[str, Any], key: ResourceKey) -> dict[str, Any]:
    """The one resource of app `realworld` in a `check -o json` document with this key."""
    (app,) = document["apps"]
    assert app["name"] == APP_NAME and app["errors"] == [], app
    found: list[dict[str, Any]] = [
        resource
        for resource in app["resources"]
        if ResourceKey(resource["group"], resource["kind"], resource["namespace"], resource["name"]) == key
    ]
    assert len(found) == 1, (
        f"check reports {[r['kind'] + '/' + r['name'] for r in app['resources']]}, not {key}"
    )
    return found[0]


def dry_run_sync(config: Path, kubeconfig: Path, base_dir: Path) -> SyncResult:
    """`kubedrift sync realworld --dry-run`, through the operation the CLI calls."""
    engine = Engine(
        load_config(config), load_kubeconfig(str(kubeconfig), environ={}), base_dir=base_dir, watch_tree=False
    )
    engine.evaluate()
    return sync_now(engine, APP_NAME, dry_run=True)


def found_kubectl(kubeconfig: Path, home: Path) -> Kubectl:
    kubectl = newest_kubectl(kubeconfig, home)
    if kubectl is None:
        pytest.skip("no kubectl 1.29+ is installed")
    return kubectl


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_realworld_case_live(
    case: RealWorldCase, tmp_path: Path, state_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = ResourceKey.of(case.live)
    with SandboxThread(controllers=()) as sandbox:
        kubeconfig = sandbox.kubeconfig(tmp_path / "kubeconfig")
        replay = Replay(case, found_kubectl(kubeconfig, tmp_path / "kubectl-home"))
        rebuilt = replay()
        assert_rebuilt_like_live(case, replay, rebuilt)

        config = write_app(tmp_path, case)
        code, document = check_json(["--config", str(config), "--kubeconfig", str(kubeconfig)], capsys)
        dry_run = dry_run_sync(config, kubeconfig, tmp_path)
        after = replay.current()

    assert after is not None
    assert after["metadata"]["resourceVersion"] == rebuilt["metadata"]["resourceVersion"], "the dry run wrote"
    resource = verdict_for(document, key)
    in_sync = resource["status"] == "Synced"
    pointers = sorted({change["path"] for change in resource["changes"]})
    assert code == (0 if in_sync else 1), (code, resource["status"])
    if (in_sync, pointers) != (case.expected.in_sync, sorted(case.expected.changes)):
        raise VerdictDisagrees(
            f"check says {resource['status']} {pointers}; the corpus says "
            f"{'in sync' if case.expected.in_sync else 'drift'} {sorted(case.expected.changes)}\n{case.why}"
        )

    assert dry_run.dry_run and (not dry_run.failed or case.id in DRY_RUN_MAY_FAIL), dry_run.outcomes
    outcomes = [(str(outcome.key), str(outcome.action), outcome.message) for outcome in dry_run.outcomes]
    changes_nothing = all(outcome.action is ResourceAction.UNCHANGED for outcome in dry_run.outcomes)
    if in_sync != changes_nothing:
        raise SyncDisagrees(
            f"drift rule 7: check says {resource['status']} {pointers}, but the dry-run sync gives {outcomes}"
        )
