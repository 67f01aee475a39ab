"""kubedrift.yaml, Argo CD Application includes, zero-config and config discovery.

Error tests assert the exact sentence a user sees, with file, line and field path.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from core.config import Config, ContextSettings, find_config, load_config, zero_config
from core.desired_state import AppDesiredState
from core.errors import ConfigError
from core.kubeconfig import ClusterConfigError, Kubeconfig
from core.model import App, Destination, IgnoreDifference, Source, SyncPolicy, TrackingMethod
from core.source_options import DirectoryOptions, SourceOptions
from core.sync_options import RetryPolicy, SyncOptions

GUESTBOOK_APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
    path: guestbook
    directory:
      recurse: true
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
      allowEmpty: false
    syncOptions:
      - CreateNamespace=true
      - ServerSideApply=true
    retry:
      limit: 5
      backoff: {duration: 5s, factor: 2, maxDuration: 3m}
  ignoreDifferences:
    - group: apps
      kind: Deployment
      jsonPointers:
        - /spec/replicas
    - group: admissionregistration.k8s.io
      kind: MutatingWebhookConfiguration
      jqPathExpressions:
        - .webhooks[]?.clientConfig.caBundle
    - kind: ConfigMap
      name: settings
      namespace: guestbook
      jsonPointers: [/data/generated]
      managedFieldsManagers: [kube-controller-manager]
"""


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Error messages name files relative to the working folder, as a user types them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path / "kubedrift.yaml", text))


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# --- valid configuration -----------------------------------------------------------------------


def test_full_config_round_trips_into_app_values(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        apps:
          - name: shop
            source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}
            destination: {name: dev, namespace: shop}
            syncPolicy: {automated: {prune: false, selfHeal: true}}
            ignoreDifferences:
              - {group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}
              - {kind: ConfigMap, name: flags, namespace: shop, jsonPointers: [/data/a, /data/b]}
          - name: billing
            source:
              repoURL: https://git.example.com/platform/billing.git
            destination: {server: "https://10.0.0.1:6443"}
            tracking: argocd
        readOnly: true
        contexts:
          prod: {readOnly: true}
          staging: {}
        theme: kubedrift-dark
        keymap: {sync: ctrl+s, prune: P}
        """,
    )
    assert config.apps == (
        App(
            name="shop",
            source=Source(repo_url=str(tmp_path / "gitops"), target_revision="main", path="apps/shop"),
            destination=Destination(name="dev", namespace="shop"),
            sync_policy=SyncPolicy(automated=True, prune=False, self_heal=True),
            ignore_differences=(
                IgnoreDifference(kind="Deployment", group="apps", json_pointers=("/spec/replicas",)),
                IgnoreDifference(
                    kind="ConfigMap", name="flags", namespace="shop", json_pointers=("/data/a", "/data/b")
                ),
            ),
            origin="kubedrift.yaml:2",
        ),
        App(
            name="billing",
            source=Source(repo_url="https://git.example.com/platform/billing.git"),
            destination=Destination(server="https://10.0.0.1:6443", namespace="default"),
            sync_policy=SyncPolicy(automated=False),
            tracking=TrackingMethod.ARGOCD,
            origin="kubedrift.yaml:9",
        ),
    )
    assert config.read_only is True
    assert dict(config.contexts) == {"prod": ContextSettings(read_only=True), "staging": ContextSettings()}
    assert config.theme == "kubedrift-dark"
    assert dict(config.keymap) == {"sync": "ctrl+s", "prune": "P"}
    assert config.path == tmp_path / "kubedrift.yaml"


def test_defaults_apply_when_optional_fields_are_left_out(tmp_path: Path) -> None:
    config = load(tmp_path, "apps:\n  - {name: web, source: {repoURL: /srv/gitops}}\n")
    (app,) = config.apps
    assert app.source == Source(repo_url="/srv/gitops", target_revision="HEAD", path=".")
    assert app.destination == Destination(name=None, server=None, namespace="default")
    assert app.sync_policy == SyncPolicy(automated=False, prune=False, self_heal=False)
    assert app.tracking is TrackingMethod.KUBEDRIFT
    assert (config.read_only, config.theme, dict(config.contexts), dict(config.keymap)) == (
        False,
        None,
        {},
        {},
    )


@pytest.mark.parametrize(
    ("sync_policy", "expected"),
    [
        ("{automated: {}}", SyncPolicy(automated=True)),
        ("{automated: {prune: true}}", SyncPolicy(automated=True, prune=True)),
        ("{automated: {enabled: false, selfHeal: true}}", SyncPolicy(automated=False, self_heal=True)),
        ("{automated: null}", SyncPolicy()),
        ("{}", SyncPolicy()),
    ],
)
def test_sync_policy_follows_argo_cd(tmp_path: Path, sync_policy: str, expected: SyncPolicy) -> None:
    config = load(tmp_path, f"apps:\n  - {{name: web, source: {{repoURL: .}}, syncPolicy: {sync_policy}}}\n")
    assert config.apps[0].sync_policy == expected


def test_explicit_empty_target_revision_means_the_files_on_disk(tmp_path: Path) -> None:
    config = load(tmp_path, "apps:\n  - {name: web, source: {repoURL: ., targetRevision: ''}}\n")
    assert config.apps[0].source.target_revision == ""


def test_relative_repo_urls_are_read_from_the_config_files_folder(tmp_path: Path) -> None:
    config_file = write(
        tmp_path / "ops" / "kubedrift.yaml",
        """\
        apps:
          - {name: a, source: {repoURL: ./gitops}}
          - {name: b, source: {repoURL: ../shared/repo}}
          - {name: c, source: {repoURL: gitops}}
          - {name: d, source: {repoURL: /abs/repo}}
          - {name: e, source: {repoURL: "https://github.com/org/repo.git"}}
          - {name: f, source: {repoURL: "git@github.com:org/repo.git"}}
          - {name: g, source: {repoURL: "ssh://git@host:2222/org/repo.git"}}
          - {name: h, source: {repoURL: "file:///srv/git/repo"}}
          - {name: i, source: {repoURL: "./odd:name"}}
        """,
    )
    repo_urls = [app.source.repo_url for app in load_config(config_file).apps]
    assert repo_urls == [
        str(tmp_path / "ops" / "gitops"),
        str(tmp_path / "shared" / "repo"),
        str(tmp_path / "ops" / "gitops"),
        "/abs/repo",
        "https://github.com/org/repo.git",
        "git@github.com:org/repo.git",
        "ssh://git@host:2222/org/repo.git",
        "file:///srv/git/repo",
        str(tmp_path / "ops" / "odd:name"),
    ]


def test_is_read_only_combines_the_global_flag_and_the_context(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "apps: [{name: a, source: {repoURL: .}}]\n"
        "contexts: {prod: {readOnly: true}, dev: {readOnly: false}}\n",
    )
    assert [config.is_read_only(context) for context in ("prod", "dev", "other", None)] == [
        True,
        False,
        False,
        False,
    ]
    globally = Config(apps=config.apps, read_only=True)
    assert globally.is_read_only("dev") and globally.is_read_only(None)


# --- include: Argo CD Application manifests ----------------------------------------------------


def test_include_of_one_file_maps_every_application_field(tmp_path: Path) -> None:
    write(
        tmp_path / "argocd" / "apps.yaml",
        GUESTBOOK_APPLICATION
        + """\
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: default}
spec: {sourceRepos: ['*']}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-an-app}
---
""",
    )
    config = load(tmp_path, "apps:\n  - include: argocd/apps.yaml\n")
    assert config.apps == (
        App(
            name="guestbook",
            source=Source(
                repo_url="https://github.com/argoproj/argocd-example-apps.git",
                target_revision="HEAD",
                path="guestbook",
                options=SourceOptions(directory=DirectoryOptions(recurse=True)),
            ),
            destination=Destination(server="https://kubernetes.default.svc", namespace="guestbook"),
            sync_policy=SyncPolicy(
                automated=True,
                prune=True,
                self_heal=True,
                sync_options=SyncOptions((("CreateNamespace", "true"), ("ServerSideApply", "true"))),
                retry=RetryPolicy(limit=5, duration=5.0, factor=2, max_duration=180.0),
            ),
            ignore_differences=(
                IgnoreDifference(kind="Deployment", group="apps", json_pointers=("/spec/replicas",)),
                IgnoreDifference(
                    kind="ConfigMap",
                    name="settings",
                    namespace="guestbook",
                    json_pointers=("/data/generated",),
                ),
            ),
            origin="argocd/apps.yaml:1",
        ),
    )


def test_include_of_a_folder_reads_yaml_yml_and_json_recursively(tmp_path: Path) -> None:
    write(tmp_path / "gitops" / "argocd" / "apps" / "guestbook.yaml", GUESTBOOK_APPLICATION)
    write(
        tmp_path / "gitops" / "argocd" / "apps" / "team" / "shop.yml",
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata:
          name: shop
        spec:
          source:
            repoURL: ../../../manifests
            path: shop
            targetRevision: ""
          destination:
            name: dev
        """,
    )
    write(
        tmp_path / "gitops" / "argocd" / "apps" / "metrics.json",
        '{\n\t"apiVersion": "argoproj.io/v1alpha1",\n\t"kind": "Application",\n'
        '\t"metadata": {"name": "metrics"},\n'
        '\t"spec": {"source": {"repoURL": "git@github.com:org/metrics.git",\n'
        '\t\t"targetRevision": "v1.2.0"}}\n}\n',
    )
    write(tmp_path / "gitops" / "argocd" / "apps" / "README.md", "not: [a manifest\n")
    write(tmp_path / "gitops" / "argocd" / "apps" / ".hidden" / "old.yaml", "not: [yaml\n")

    config = load(tmp_path, "apps:\n  - {include: gitops/argocd/apps/, tracking: argocd}\n")

    assert [app.name for app in config.apps] == ["guestbook", "metrics", "shop"]
    assert all(app.tracking is TrackingMethod.ARGOCD for app in config.apps)
    metrics, shop = config.apps[1], config.apps[2]
    assert metrics.source == Source(repo_url="git@github.com:org/metrics.git", target_revision="v1.2.0")
    assert metrics.origin.startswith("gitops/argocd/apps/metrics.json")
    # A relative repoURL is read from the folder of the manifest that declares it, and Argo CD reads
    # an empty targetRevision as HEAD.
    assert shop.source == Source(
        repo_url=str(tmp_path / "gitops" / "manifests"), target_revision="HEAD", path="shop"
    )
    assert shop.destination == Destination(name="dev", namespace="default")
    assert shop.sync_policy == SyncPolicy()
    assert shop.origin == "gitops/argocd/apps/team/shop.yml:1"


def test_include_sits_beside_declared_apps(tmp_path: Path) -> None:
    write(tmp_path / "argocd" / "guestbook.yaml", GUESTBOOK_APPLICATION)
    config = load(
        tmp_path,
        "apps:\n  - {name: shop, source: {repoURL: .}}\n  - include: argocd\n"
        "  - {name: web, source: {repoURL: .}}\n",
    )
    assert [app.name for app in config.apps] == ["shop", "guestbook", "web"]


# --- zero-config and discovery -----------------------------------------------------------------


def test_zero_config_is_one_app_for_the_folder_read_from_disk(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    config = zero_config(Path("manifests"))
    assert config.apps == (
        App(
            name="manifests",
            source=Source(
                repo_url=str(tmp_path / "manifests"),
                target_revision="",
                path=".",
                options=SourceOptions(directory=DirectoryOptions(recurse=True)),
            ),
            destination=Destination(name=None, server=None, namespace="default"),
            origin="manifests",
        ),
    )
    assert (config.path, config.read_only) == (None, False)


def test_zero_config_refuses_a_missing_folder_and_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        zero_config(Path("nowhere"))
    assert str(missing.value) == "nowhere: no such folder; pass a folder of Kubernetes manifests"
    write(tmp_path / "deploy.yaml", "kind: ConfigMap\n")
    with pytest.raises(ConfigError) as file:
        zero_config(Path("deploy.yaml"))
    assert str(file.value) == (
        "deploy.yaml: this is a file, not a folder; pass the folder of manifests that holds it, "
        "or use --config if it is a kubedrift.yaml"
    )


def test_find_config_prefers_flag_then_environment_then_working_folder(tmp_path: Path) -> None:
    flag = write(tmp_path / "flag.yaml", "apps: []\n")
    environment = write(tmp_path / "env.yaml", "apps: []\n")
    assert find_config(None, {}, tmp_path) is None
    local = write(tmp_path / "kubedrift.yaml", "apps: []\n")
    assert find_config(None, {}, tmp_path) == local
    assert find_config(None, {"KUBEDRIFT_CONFIG": "env.yaml"}, tmp_path) == environment
    assert find_config("flag.yaml", {"KUBEDRIFT_CONFIG": "env.yaml"}, tmp_path) == flag
    assert find_config(str(flag), {}, Path("/")) == flag
    assert find_config(None, {"KUBEDRIFT_CONFIG": ""}, tmp_path) == local


def test_find_config_refuses_explicit_paths_that_do_not_exist(tmp_path: Path) -> None:
    write(tmp_path / "kubedrift.yaml", "apps: []\n")
    with pytest.raises(ConfigError) as flag:
        find_config("missing.yaml", {}, tmp_path)
    assert (
        str(flag.value) == "missing.yaml: the config file given with --config does not exist; check the path"
    )
    with pytest.raises(ConfigError) as environment:
        find_config(None, {"KUBEDRIFT_CONFIG": "gone.yaml"}, tmp_path)
    assert str(environment.value) == (
        "gone.yaml: the config file set in $KUBEDRIFT_CONFIG does not exist; check the path"
    )
    (tmp_path / "manifests").mkdir()
    with pytest.raises(ConfigError) as folder:
        find_config("manifests", {}, tmp_path)
    assert str(folder.value) == (
        "manifests: the config file given with --config is a folder; "
        "to watch a folder of manifests run 'kubedrift PATH'"
    )


# --- errors, as the user reads them ------------------------------------------------------------

ALLOWED_APP_KEYS = (
    "name, source, sources, destination, syncPolicy, ignoreDifferences, compareOptions, tracking"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            """\
            apps:
              - name: shop
                source: {repoURL: ./gitops}
              - name: web
                source: {repoURL: ./gitops}
                syncPolicy:
                  automated: {prune: false, selfHeal: yes please}
            """,
            "kubedrift.yaml:7: apps[1].syncPolicy.automated.selfHeal: expected a boolean, got 'yes please'",
            id="wrong-type-boolean",
        ),
        pytest.param(
            """\
            apps:
              - name: shop
                sourc: {repoURL: ./gitops}
            """,
            f"kubedrift.yaml:3: apps[0]: unknown key 'sourc'; allowed keys are {ALLOWED_APP_KEYS}; "
            "did you mean 'source'?",
            id="unknown-key-close-match",
        ),
        pytest.param(
            """\
            apps:
              - name: shop
                source: {repoURL: ./gitops}
                wave: 3
            """,
            f"kubedrift.yaml:4: apps[0]: unknown key 'wave'; allowed keys are {ALLOWED_APP_KEYS}",
            id="unknown-key",
        ),
        pytest.param(
            """\
            apps:
              - {name: a, source: {repoURL: .}}
              - {name: b, source: {repoURL: .}}
              - source: {repoURL: .}
                destination: {namespace: shop}
            """,
            "kubedrift.yaml:4: apps[2]: missing required key 'name'",
            id="missing-name",
        ),
        pytest.param(
            """\
            apps:
              - {name: a, source: {repoURL: .}}
              - {name: b, source: {repoURL: .}}
              - name: shop
                source: {repoURL: .}
              - name: shop
                source: {repoURL: ./other}
            """,
            "kubedrift.yaml:6: apps[3].name: duplicate app name 'shop' (first declared at kubedrift.yaml:4)",
            id="duplicate-app-name",
        ),
        pytest.param(
            "apps:\n  - name: shop\n    source: {repoURL: ./gitops\n  - name: web\n",
            "kubedrift.yaml:4: invalid YAML: "
            + (
                "did not find expected ',' or '}'"
                if yaml.__with_libyaml__
                else "expected ',' or '}', but got ':'"
            ),
            id="bad-yaml-syntax",
        ),
        pytest.param(
            "apps:\n  - name: shop\n    name: web\n    source: {repoURL: .}\n",
            "kubedrift.yaml:3: invalid YAML: duplicate key 'name'; a key may appear only once in a mapping",
            id="duplicate-yaml-key",
        ),
        pytest.param(
            "- name: shop\n  source: {repoURL: .}\n",
            "kubedrift.yaml:1: expected a mapping with the keys apps, readOnly, contexts, clusters, theme, "
            "keymap, healthChecks, notifications, agent, agents at the top level, got a list",
            id="top-level-not-a-mapping",
        ),
        pytest.param(
            "# nothing here yet\n",
            "kubedrift.yaml: no apps are declared; add apps under 'apps:', "
            "or run 'kubedrift PATH' on a folder of manifests",
            id="empty-file",
        ),
        pytest.param(
            "readOnly: true\napps: []\n",
            "kubedrift.yaml:2: apps: no apps are declared; add apps under 'apps:', "
            "or run 'kubedrift PATH' on a folder of manifests",
            id="empty-apps",
        ),
        pytest.param(
            "apps: [{name: a, source: {repoURL: .}}]\nreadonly: true\n",
            "kubedrift.yaml:2: unknown key 'readonly'; allowed keys are apps, readOnly, contexts, clusters, "
            "theme, keymap, healthChecks, notifications, agent, agents; did you mean 'readOnly'?",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "apps: [{name: a, source: {repoURL: .}}]\nkeymap:\n  sync: ctrl+s\n  quit: 1\n",
            "kubedrift.yaml:4: keymap.quit: expected a non-empty string, got the number 1; "
            "put the value in quotes",
            id="keymap-value-not-a-string",
        ),
        pytest.param(
            "apps: [{name: a, source: {repoURL: .}}]\ncontexts:\n  prod: {readonly: true}\n",
            "kubedrift.yaml:3: contexts.prod: unknown key 'readonly'; allowed keys are readOnly; "
            "did you mean 'readOnly'?",
            id="context-unknown-key",
        ),
        pytest.param(
            "apps: [{name: a, source: {repoURL: .}}]\ncontexts:\n  prod: true\n",
            "kubedrift.yaml:3: contexts.prod: expected a mapping, got the boolean true",
            id="context-not-a-mapping",
        ),
        pytest.param(
            "apps: [{name: a, source: {repoURL: .}}]\ncontexts: [prod]\n",
            "kubedrift.yaml:2: contexts: expected a mapping, got a list",
            id="contexts-not-a-mapping",
        ),
        pytest.param(
            "apps:\n  - name: shop\n    source: {repoURL: ., targetRevision: 1.10}\n",
            "kubedrift.yaml:3: apps[0].source.targetRevision: expected a string, got the number 1.1; "
            "put the value in quotes",
            id="number-where-a-string-belongs",
        ),
        pytest.param(
            "apps:\n  - name: shop\n    source: {path: apps/shop}\n",
            "kubedrift.yaml:3: apps[0].source: missing required key 'repoURL'",
            id="missing-repo-url",
        ),
        pytest.param(
            "apps:\n  - name: shop\n",
            "kubedrift.yaml:2: apps[0]: missing required key 'source'",
            id="missing-source",
        ),
        pytest.param(
            "apps:\n  - shop\n",
            "kubedrift.yaml:2: apps[0]: expected a mapping, got 'shop'",
            id="app-not-a-mapping",
        ),
        pytest.param(
            "apps:\n  - {name: shop, source: {repoURL: .}, tracking: argo}\n",
            "kubedrift.yaml:2: apps[0].tracking: expected one of kubedrift, argocd, got 'argo'",
            id="unknown-tracking",
        ),
        pytest.param(
            "apps:\n  - name: 'shop:prod'\n    source: {repoURL: .}\n",
            "kubedrift.yaml:2: apps[0].name: app name 'shop:prod' cannot contain ':' or spaces, "
            "since it is written into tracking ids",
            id="name-with-colon",
        ),
        pytest.param(
            "apps:\n  - name: shop\n    source: {repoURL: .}\n    destination: {name: dev, server: 'https://k8s'}\n",
            "kubedrift.yaml:4: apps[0].destination: set either name (a kubeconfig context) or server "
            "(a cluster URL), not both",
            id="destination-name-and-server",
        ),
        pytest.param(
            "apps:\n  - name: shop\n    source: {repoURL: .}\n    ignoreDifferences:\n"
            "      - {kind: Deployment, jsonPointers: [spec/replicas]}\n",
            "kubedrift.yaml:5: apps[0].ignoreDifferences[0].jsonPointers[0]: expected a JSON pointer "
            "starting with '/', got 'spec/replicas'",
            id="json-pointer-without-slash",
        ),
        pytest.param(
            "apps:\n  - name: shop\n    source: {repoURL: .}\n    ignoreDifferences:\n"
            "      - {kind: Deployment, jqPathExpressions: [.spec.replicas]}\n",
            "kubedrift.yaml:5: apps[0].ignoreDifferences[0]: jqPathExpressions is not supported; "
            "use jsonPointers",
            id="jq-in-kubedrift-yaml",
        ),
        pytest.param(
            "apps:\n  - name: shop\n    source: {repoURL: .}\n    ignoreDifferences:\n"
            "      - {group: apps, jsonPointers: [/spec/replicas]}\n",
            "kubedrift.yaml:5: apps[0].ignoreDifferences[0]: missing required key 'kind'",
            id="ignore-difference-without-kind",
        ),
        pytest.param(
            "apps:\n  - include: argocd/\n",
            "kubedrift.yaml:2: apps[0].include: 'argocd/' does not exist "
            "(include paths are read relative to the config file)",
            id="include-missing",
        ),
        pytest.param(
            "apps:\n  - {include: ., name: extra}\n",
            "kubedrift.yaml:2: apps[0]: unknown key 'name'; allowed keys are include, tracking",
            id="include-with-app-keys",
        ),
    ],
)
def test_config_errors_read_as_one_sentence(tmp_path: Path, text: str, expected: str) -> None:
    assert config_error(tmp_path, textwrap.dedent(text)) == expected


APPLICATION_HEAD = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop
  namespace: argocd
spec:
  project: default
"""


@pytest.mark.parametrize(
    ("application", "expected"),
    [
        pytest.param(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  namespace: argocd\n"
            "spec:\n  source: {repoURL: 'https://github.com/org/repo.git'}\n",
            "argocd/shop.yaml:4: metadata: missing required key 'name'",
            id="application-without-name",
        ),
        pytest.param(
            APPLICATION_HEAD + "  destination: {namespace: shop}\n",
            "argocd/shop.yaml:7: spec: missing required key 'source'",
            id="application-without-source",
        ),
        pytest.param(
            APPLICATION_HEAD
            + "  source: {repoURL: 'https://github.com/org/repo.git'}\n"
            + "  syncPolicy:\n    automated:\n      prune: 'true'\n",
            "argocd/shop.yaml:11: spec.syncPolicy.automated.prune: expected a boolean, got 'true'",
            id="application-wrong-type",
        ),
        pytest.param(
            (APPLICATION_HEAD + "  source: {repoURL: 'https://github.com/org/repo.git'}\n---\n") * 2,
            "argocd/shop.yaml:13: metadata.name: duplicate app name 'shop' "
            "(first declared at argocd/shop.yaml:1)",
            id="duplicate-across-documents",
        ),
        pytest.param(
            APPLICATION_HEAD + "  source:\n    repoURL: {{ .Values.repo }}\n",
            "argocd/shop.yaml:9: invalid YAML: a mapping key must be a plain value, not a list or mapping",
            id="helm-template-is-not-yaml",
        ),
    ],
)
def test_included_application_errors_name_the_manifest(
    tmp_path: Path, application: str, expected: str
) -> None:
    write(tmp_path / "argocd" / "shop.yaml", application)
    assert config_error(tmp_path, "apps:\n  - include: argocd\n") == expected


def test_duplicate_between_declared_and_included_app_names_both_places(tmp_path: Path) -> None:
    write(tmp_path / "argocd" / "guestbook.yaml", GUESTBOOK_APPLICATION)
    message = config_error(
        tmp_path, "apps:\n  - name: guestbook\n    source: {repoURL: .}\n  - include: argocd/guestbook.yaml\n"
    )
    assert message == (
        "argocd/guestbook.yaml:4: metadata.name: duplicate app name 'guestbook' "
        "(first declared at kubedrift.yaml:2)"
    )


def test_invalid_json_in_an_include_names_the_file_and_line(tmp_path: Path) -> None:
    write(
        tmp_path / "argocd" / "shop.json", '{\n\t"kind": "Application",\n\t"metadata": {"name": "shop"\n}\n'
    )
    message = config_error(tmp_path, "apps:\n  - include: argocd\n")
    assert message == "argocd/shop.json:5: invalid JSON: Expecting ',' delimiter"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "  sources:\n    - repoURL: https://github.com/org/charts.git\n      path: shop\n"
            "    - repoURL: https://github.com/org/repo.git\n      plugin: {name: cdk8s}\n",
            "argocd/shop.yaml:12: spec.sources[1].plugin: config management plugins are not supported; "
            "kubedrift renders folders of manifests, Jsonnet, kustomizations, and Helm charts from Git or "
            "a Helm repository",
            id="plugin-in-sources",
        ),
        pytest.param(
            "  source:\n    repoURL: https://github.com/org/repo.git\n    plugin: {name: cdk8s}\n",
            "argocd/shop.yaml:10: spec.source.plugin: config management plugins are not supported; "
            "kubedrift renders folders of manifests, Jsonnet, kustomizations, and Helm charts from Git or "
            "a Helm repository",
            id="plugin",
        ),
    ],
)
def test_an_included_application_kubedrift_cannot_render_is_that_apps_error_not_the_configs(
    tmp_path: Path, source: str, expected: str
) -> None:
    write(tmp_path / "argocd" / "shop.yaml", APPLICATION_HEAD + source + "  destination: {namespace: shop}\n")
    write(tmp_path / "argocd" / "guestbook.yaml", GUESTBOOK_APPLICATION)
    config = load(tmp_path, "apps:\n  - include: argocd\n")
    apps = {app.name: app for app in config.apps}
    assert apps["shop"].unrenderable == expected
    assert apps["shop"].destination.namespace == "shop"
    assert apps["guestbook"].unrenderable == "", "the other Applications are read as usual"
    state = AppDesiredState(apps["shop"]).load()
    assert (state.revision, state.errors, state.render_ok) == (None, (expected,), False)


def test_clusters_maps_argo_cd_destinations_to_kubeconfig_contexts(tmp_path: Path) -> None:
    write(tmp_path / "argocd" / "guestbook.yaml", GUESTBOOK_APPLICATION)  # server: kubernetes.default.svc
    config = load(
        tmp_path,
        "apps:\n"
        "  - include: argocd\n"
        "  - {name: web, source: {repoURL: .}, destination: {name: in-cluster, namespace: web}}\n"
        "  - {name: other, source: {repoURL: .}, destination: {server: 'https://10.0.0.9:6443'}}\n"
        "clusters:\n"
        "  https://kubernetes.default.svc/: prod\n"
        "  in-cluster: prod\n",
    )
    apps = {app.name: app for app in config.apps}
    assert apps["guestbook"].destination == Destination(name="prod", namespace="guestbook")
    assert apps["web"].destination == Destination(name="prod", namespace="web")
    assert apps["other"].destination == Destination(server="https://10.0.0.9:6443"), "not mapped: as given"


def test_an_unmapped_in_cluster_destination_names_the_fix(tmp_path: Path) -> None:
    kubeconfig = Kubeconfig("test", {"dev": "https://dev.example"}, "dev", None)
    with pytest.raises(ClusterConfigError, match=r"map it to a context under clusters: in kubedrift\.yaml"):
        kubeconfig.context_for(Destination(server="https://kubernetes.default.svc"))
