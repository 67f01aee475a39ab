"""Argo CD's sync options, retry and managed namespace metadata: parsed, and read from kubedrift.yaml
(strict) and from included Argo CD Applications (lenient), with one clear error for an unknown option."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from core.sync_options import (
    ManagedNamespaceMetadata,
    OptionScope,
    RetryPolicy,
    SyncOptionError,
    SyncOptions,
    annotation_sync_options,
    parse_duration,
    parse_sync_options,
    sync_options_problem,
)


def options(*items: str, scope: OptionScope = OptionScope.APP) -> SyncOptions:
    return parse_sync_options(items, scope=scope)


def with_annotation(text: str) -> dict[str, object]:
    return {"metadata": {"name": "x", "annotations": {"argocd.argoproj.io/sync-options": text}}}


# --- parsing ------------------------------------------------------------------------------------


def test_every_option_of_the_issue_reads_with_argo_cds_meaning() -> None:
    parsed = options(
        "CreateNamespace=true",
        "Prune=false",
        "PruneLast=true",
        "ApplyOutOfSyncOnly=true",
        "Replace=true",
        "Force=true",
        "Validate=false",
        "SkipDryRunOnMissingResource=true",
        "FailOnSharedResource=true",
        "PrunePropagationPolicy=background",
    )
    assert parsed.create_namespace and parsed.prune_disabled and parsed.prune_last
    assert parsed.apply_out_of_sync_only and parsed.replace and parsed.force
    assert not parsed.validate
    assert parsed.skip_dry_run_on_missing_resource and parsed.fail_on_shared_resource
    assert parsed.prune_propagation == "Background"


def test_nothing_set_is_argo_cds_defaults() -> None:
    parsed = SyncOptions()
    assert parsed.validate and parsed.client_side_apply_migration
    assert not (parsed.create_namespace or parsed.replace or parsed.force or parsed.prune_disabled)
    assert parsed.prune_propagation == "Foreground"


def test_options_argo_cd_has_but_kubedrift_always_does_are_accepted() -> None:
    parsed = options("ServerSideApply=true", "RespectIgnoreDifferences=true", "Delete=false")
    assert str(parsed) == "ServerSideApply=true,RespectIgnoreDifferences=true,Delete=false"


def test_false_turns_an_option_off_and_blanks_are_trimmed() -> None:
    assert not options(" CreateNamespace = false ").create_namespace
    assert options("Validate=true").validate


def test_an_unknown_option_is_one_sentence_with_the_likely_one() -> None:
    with pytest.raises(SyncOptionError) as caught:
        options("CreateNamespaces=true")
    assert (
        str(caught.value) == "unknown sync option 'CreateNamespaces=true'; did you mean CreateNamespace=true?"
    )


def test_an_option_without_a_close_match_lists_argo_cds_names() -> None:
    with pytest.raises(SyncOptionError) as caught:
        options("Turbo=true")
    assert "unknown sync option 'Turbo=true'; Argo CD's options are " in str(caught.value)
    assert "CreateNamespace" in str(caught.value) and "PruneLast" in str(caught.value)


def test_a_wrong_value_names_the_values_the_option_takes() -> None:
    with pytest.raises(SyncOptionError) as caught:
        options("Prune=maybe")
    assert str(caught.value) == "sync option 'Prune=maybe' takes Prune=true or Prune=false or Prune=confirm"


def test_an_app_option_on_a_resource_is_refused() -> None:
    with pytest.raises(SyncOptionError) as caught:
        annotation_sync_options(with_annotation("Prune=false, CreateNamespace=true"))
    assert "'CreateNamespace=true' is an app option" in str(caught.value)


def test_a_resources_annotation_wins_over_the_apps_options() -> None:
    app = options("Prune=false", "Validate=false")
    resource = annotation_sync_options(with_annotation("Prune=true,Replace=true"))
    merged = app.overridden_by(resource)
    assert not merged.prune_disabled and merged.replace and not merged.validate


def test_the_annotation_problem_names_the_annotation() -> None:
    problem = sync_options_problem(with_annotation("PruneLast=ture"))
    assert problem == (
        "sync option 'PruneLast=ture' takes PruneLast=true or PruneLast=false "
        "in its annotation argocd.argoproj.io/sync-options"
    )
    assert sync_options_problem(with_annotation("PruneLast=true")) is None


# --- retry ----------------------------------------------------------------------------------------


def test_retry_waits_duration_times_factor_to_the_retry_capped_at_max_duration() -> None:
    policy = RetryPolicy(limit=5, duration=5.0, factor=2, max_duration=30.0)
    assert [policy.delay(done) for done in range(5)] == [5.0, 10.0, 20.0, 30.0, 30.0]


def test_retry_limit_counts_retries_and_a_negative_limit_never_ends() -> None:
    assert [RetryPolicy(limit=2).allows(done) for done in range(3)] == [True, True, False]
    assert not RetryPolicy(limit=0).allows(0)
    assert RetryPolicy(limit=-1).allows(10_000)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("2m", 120.0), ("1h30m", 5400.0), ("30", 30.0), ("500ms", 0.5), ("1.5s", 1.5)],
)
def test_backoff_durations_read_as_argo_cd_reads_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "s", "", "-3", "5x"])
def test_a_duration_argo_cd_cannot_read_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# --- kubedrift.yaml and Applications ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Errors name files relative to the working folder, as a user running kubedrift there reads them."""
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / "kubedrift.yaml", text))
    return str(caught.value)


def test_kubedrift_yaml_reads_sync_options_retry_and_namespace_metadata(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path / "kubedrift.yaml",
            """\
            apps:
              - name: shop
                source: {repoURL: .}
                syncPolicy:
                  syncOptions: [CreateNamespace=true, PruneLast=true]
                  retry: {limit: 3, backoff: {duration: 10s, factor: 3, maxDuration: 1m}}
                  managedNamespaceMetadata:
                    labels: {team: shop}
                    annotations: {owner: "ops@example.com"}
            """,
        )
    )
    policy = config.apps[0].sync_policy
    assert policy.sync_options == SyncOptions((("CreateNamespace", "true"), ("PruneLast", "true")))
    assert policy.retry == RetryPolicy(limit=3, duration=10.0, factor=3, max_duration=60.0)
    assert policy.managed_namespace_metadata == ManagedNamespaceMetadata(
        labels=(("team", "shop"),), annotations=(("owner", "ops@example.com"),)
    )
    assert not policy.automated


def test_retry_without_backoff_has_argo_cds_defaults(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path / "kubedrift.yaml",
            "apps: [{name: a, source: {repoURL: .}, syncPolicy: {retry: {limit: 2}}}]\n",
        )
    )
    assert config.apps[0].sync_policy.retry == RetryPolicy(
        limit=2, duration=5.0, factor=2, max_duration=180.0
    )


def test_an_unknown_option_in_kubedrift_yaml_names_the_file_line_and_item(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        """\
        apps:
          - name: shop
            source: {repoURL: .}
            syncPolicy:
              syncOptions:
                - PruneLast=true
                - CreateNamepsace=true
        """,
    )
    assert message == (
        "kubedrift.yaml:7: apps[0].syncPolicy.syncOptions[1]: unknown sync option "
        "'CreateNamepsace=true'; did you mean CreateNamespace=true?"
    )


def test_namespace_metadata_without_create_namespace_is_refused_in_kubedrift_yaml(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        "apps: [{name: a, source: {repoURL: .}, syncPolicy: {managedNamespaceMetadata: {labels: {a: b}}}}]\n",
    )
    assert "managedNamespaceMetadata is used only with CreateNamespace=true" in message


def test_a_bad_backoff_duration_is_one_sentence(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        "apps: [{name: a, source: {repoURL: .}, syncPolicy: {retry: {backoff: {duration: soon}}}}]\n",
    )
    assert message.startswith(
        "kubedrift.yaml:1: apps[0].syncPolicy.retry.backoff.duration: 'soon' is not a duration"
    )


def test_retry_refresh_is_refused_in_kubedrift_yaml_and_ignored_in_an_application(tmp_path: Path) -> None:
    assert "retry.refresh is not supported" in config_error(
        tmp_path, "apps: [{name: a, source: {repoURL: .}, syncPolicy: {retry: {limit: 1, refresh: true}}}]\n"
    )
    write(
        tmp_path / "argocd" / "app.yaml",
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata: {name: guestbook}
        spec:
          source: {repoURL: ../gitops, path: guestbook}
          destination: {namespace: guestbook}
          syncPolicy:
            syncOptions: [CreateNamespace=true]
            retry: {limit: 1, refresh: true}
            managedNamespaceMetadata: {labels: {a: b}}
        """,
    )
    config = load_config(write(tmp_path / "kubedrift.yaml", "apps: [{include: argocd/app.yaml}]\n"))
    policy = config.apps[0].sync_policy
    assert policy.sync_options.create_namespace and policy.retry == RetryPolicy(limit=1)
    assert policy.managed_namespace_metadata == ManagedNamespaceMetadata(labels=(("a", "b"),))


def test_an_unknown_option_in_an_included_application_is_an_error_too(tmp_path: Path) -> None:
    write(
        tmp_path / "argocd" / "app.yaml",
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata: {name: guestbook}
        spec:
          source: {repoURL: ../gitops, path: guestbook}
          syncPolicy:
            syncOptions: [CreateNamespace=yes]
        """,
    )
    message = config_error(tmp_path, "apps: [{include: argocd/app.yaml}]\n")
    assert message == (
        "argocd/app.yaml:7: spec.syncPolicy.syncOptions[0]: sync option 'CreateNamespace=yes' "
        "takes CreateNamespace=true or CreateNamespace=false"
    )
