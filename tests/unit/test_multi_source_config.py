"""Reading multi-source apps (Argo CD's `spec.sources`, with `ref` and `$ref/...` value files): strictly in
kubedrift.yaml, where every mistake is one sentence naming file, line and field; leniently in included
Application manifests, where what Argo CD would refuse is that app's one error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.config import Config, load_config
from core.errors import ConfigError
from core.model import Source
from core.source_options import HelmFileParameter


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # messages name files as the user typed them
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


# Argo CD's documented shape: a chart from a Helm repository, its values from the team's Git repository.
CHART_WITH_VALUES = """\
apps:
  - name: prometheus
    sources:
      - repoURL: https://prometheus-community.github.io/helm-charts
        chart: prometheus
        targetRevision: 15.7.1
        helm:
          valueFiles:
            - $values/charts/prometheus/values.yaml
          fileParameters: [{name: config, path: $values/files/prometheus.yml}]
      - repoURL: ./value-files
        targetRevision: dev
        ref: values
    destination: {namespace: monitoring}
"""


def test_sources_are_read_in_order_and_the_first_that_renders_is_the_apps_source(tmp_path: Path) -> None:
    (app,) = load(tmp_path, CHART_WITH_VALUES).apps
    chart, values = app.sources
    assert app.source is chart, "the chart gives the app its one revision"
    assert (chart.repo_url, chart.options.chart, chart.target_revision, chart.ref) == (
        "https://prometheus-community.github.io/helm-charts",
        "prometheus",
        "15.7.1",
        "",
    )
    assert chart.options.helm.value_files == ("$values/charts/prometheus/values.yaml",)
    assert chart.options.helm.file_parameters == (
        HelmFileParameter("config", "$values/files/prometheus.yml"),
    )
    assert values == Source(
        repo_url=str(tmp_path / "value-files"), target_revision="dev", path="", ref="values"
    )
    assert (chart.renders, values.renders) == (True, False), "a ref-only source only lends its files"
    assert app.unrenderable == ""


def test_a_ref_source_with_a_path_also_renders_and_a_single_source_app_has_no_sources(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        apps:
          - name: billing
            sources:
              - {repoURL: ./config, targetRevision: main, path: billing, ref: config}
              - {repoURL: ./charts, path: billing, helm: {valueFiles: [$config/billing/values.yaml]}}
          - name: shop
            source: {repoURL: ./gitops, path: apps/shop}
        """,
    )
    billing, shop = config.apps
    assert [(s.path, s.ref, s.renders) for s in billing.sources] == [
        ("billing", "config", True),
        ("billing", "", True),
    ]
    assert billing.source is billing.sources[0]
    assert billing.sources[1].target_revision == "HEAD", "Argo CD's default, as for a single source"
    assert shop.sources == () and shop.source.path == "apps/shop"


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        pytest.param(
            "    source: {repoURL: ./a, path: a}\n    sources:\n      - {repoURL: ./b, path: b}\n",
            "kubedrift.yaml:5: apps[0].sources: give either source or sources, not both (Argo CD would "
            "ignore source); move source into the list",
            id="source-and-sources",
        ),
        pytest.param(
            "    sources:\n"
            "      - {repoURL: ./charts, path: web, helm: {valueFiles: [values.yaml, $value/prod.yaml]}}\n"
            "      - {repoURL: ./values, ref: values}\n",
            "kubedrift.yaml:4: apps[0].sources[0].helm.valueFiles[1]: $value names no source of this app "
            "(the sources' refs: $values); give the source holding this file ref: value",
            id="unknown-ref",
        ),
        pytest.param(
            "    sources:\n"
            "      - repoURL: ./charts\n"
            "        path: web\n"
            "        helm:\n"
            "          fileParameters:\n"
            "            - {name: config, path: $conf/app.conf}\n",
            "kubedrift.yaml:8: apps[0].sources[0].helm.fileParameters[0].path: $conf names no source of "
            "this app (the sources' refs: none); give the source holding this file ref: conf",
            id="unknown-ref-in-a-file-parameter",
        ),
        pytest.param(
            "    sources:\n      - {repoURL: ./a, path: a, ref: x}\n      - {repoURL: ./b, ref: x}\n",
            "kubedrift.yaml:5: apps[0].sources[1].ref: another source already has ref 'x'; "
            "give each its own name",
            id="duplicate-ref",
        ),
        pytest.param(
            "    sources:\n      - {repoURL: ./a, path: a}\n      - {repoURL: ./b, ref: my.values}\n",
            "kubedrift.yaml:5: apps[0].sources[1].ref: ref 'my.values' may hold only letters, digits, '_' "
            "and '-', as in Argo CD",
            id="ref-with-a-dot",
        ),
        pytest.param(
            "    sources:\n      - {repoURL: ./a, path: a}\n      - {repoURL: ./b, targetRevision: main}\n",
            "kubedrift.yaml:5: apps[0].sources[1]: give this source a path or a chart to render, or a ref "
            "for other sources' value files to read its repository by",
            id="neither-path-chart-nor-ref",
        ),
        pytest.param(
            "    sources:\n      - {repoURL: ./a, ref: a}\n      - {repoURL: ./b, ref: b}\n",
            "kubedrift.yaml:4: apps[0].sources: no source has a path or a chart, so the app would render "
            "nothing; give one a path or a chart",
            id="only-refs",
        ),
        pytest.param(
            "    sources:\n"
            "      - {repoURL: ./charts, path: web, helm: {valueFiles: [$other/values.yaml]}}\n"
            "      - {repoURL: 'https://charts.example.com', chart: other, targetRevision: 1.0.0,\n"
            "         ref: other}\n",
            "kubedrift.yaml:4: apps[0].sources[0].helm.valueFiles[0]: $other is a chart from a Helm "
            "repository; as in Argo CD, $name/ files are read only from a Git source",
            id="ref-to-a-helm-repository-chart",
        ),
        pytest.param(
            "    sources:\n"
            "      - {repoURL: ./charts, path: web, helm: {valueFiles: [$values/../../etc/passwd]}}\n"
            "      - {repoURL: ./values, ref: values}\n",
            "kubedrift.yaml:4: apps[0].sources[0].helm.valueFiles[0]: $values/../../etc/passwd names no "
            "file inside the repository of the source whose ref is values; write $values/<path from that "
            "repository's root>",
            id="ref-path-leaving-the-repository",
        ),
        pytest.param(
            "    sources: []\n",
            "kubedrift.yaml:3: apps[0].sources: expected at least one source; list them, or give the app a "
            "single source",
            id="empty-list",
        ),
        pytest.param(
            "    sources:\n      - {repoURL: ./a, path: a, refs: x}\n",
            "kubedrift.yaml:4: apps[0].sources[0]: unknown key 'refs'; allowed keys are repoURL, "
            "targetRevision, path, directory, helm, kustomize, chart, ref; did you mean 'ref'?",
            id="unknown-key-in-a-listed-source",
        ),
        pytest.param(
            "    source: {repoURL: ./a, path: a, ref: a}\n",
            "kubedrift.yaml:3: apps[0].source: unknown key 'ref'; allowed keys are repoURL, targetRevision, "
            "path, directory, helm, kustomize, chart",
            id="ref-in-a-single-source",
        ),
    ],
)
def test_multi_source_mistakes_in_kubedrift_yaml_are_one_sentence(
    tmp_path: Path, sources: str, expected: str
) -> None:
    assert config_error(tmp_path, "apps:\n  - name: web\n" + sources) == expected


APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  destination: {{server: https://kubernetes.default.svc, namespace: {name}}}
{spec}"""


def application(tmp_path: Path, name: str, spec: str) -> None:
    spec = textwrap.indent(textwrap.dedent(spec), "  ")
    (tmp_path / "argocd").mkdir(exist_ok=True)
    (tmp_path / "argocd" / f"{name}.yaml").write_text(APPLICATION.format(name=name, spec=spec))


def test_an_included_multi_source_application_is_read_as_argo_cd_reads_it(tmp_path: Path) -> None:
    application(
        tmp_path,
        "billing",
        """\
        sources:
          - repoURL: https://github.com/mycompany/billing-app.git
            path: manifests
            targetRevision: 8.5.1
            plugin: null
            helm: {valueFiles: [$settings/billing/values.yaml], passCredentials: false}
          - repoURL: https://github.com/mycompany/common-settings.git
            path: configmaps-billing
            targetRevision: HEAD
            ref: settings
            name: common
        """,
    )
    (app,) = load(tmp_path, "apps:\n  - include: argocd\n").apps
    assert [(s.repo_url, s.path, s.target_revision, s.ref) for s in app.sources] == [
        ("https://github.com/mycompany/billing-app.git", "manifests", "8.5.1", ""),
        ("https://github.com/mycompany/common-settings.git", "configmaps-billing", "HEAD", "settings"),
    ], "keys kubedrift does not act on (name, passCredentials) are skipped, as in any Application"
    assert app.source is app.sources[0] and app.unrenderable == ""


def test_an_included_application_with_source_and_sources_reads_sources_as_argo_cd_does(
    tmp_path: Path,
) -> None:
    application(
        tmp_path,
        "billing",
        """\
        source: {repoURL: https://github.com/mycompany/old.git, path: old}
        sources:
          - {repoURL: https://github.com/mycompany/billing-app.git, path: manifests}
        """,
    )
    (app,) = load(tmp_path, "apps:\n  - include: argocd\n").apps
    assert [source.path for source in app.sources] == ["manifests"]
    assert app.source.path == "manifests", "Argo CD ignores source when sources is given"


def test_an_included_application_with_an_empty_sources_list_reads_its_source(tmp_path: Path) -> None:
    application(
        tmp_path, "shop", "source: {repoURL: https://github.com/org/shop.git, path: shop}\nsources: []\n"
    )
    (app,) = load(tmp_path, "apps:\n  - include: argocd\n").apps
    assert (app.sources, app.source.path) == ((), "shop")


def test_an_included_application_naming_an_unknown_ref_is_that_apps_one_error(tmp_path: Path) -> None:
    application(
        tmp_path,
        "prometheus",
        """\
        sources:
          - repoURL: https://prometheus-community.github.io/helm-charts
            chart: prometheus
            targetRevision: 15.7.1
            helm:
              valueFiles: [$value/charts/prometheus/values.yaml]
          - {repoURL: https://git.example.com/org/value-files.git, targetRevision: dev, ref: values}
        """,
    )
    application(tmp_path, "guestbook", "source: {repoURL: https://github.com/org/guestbook.git, path: gb}\n")
    apps = {app.name: app for app in load(tmp_path, "apps:\n  - include: argocd\n").apps}
    assert apps["prometheus"].unrenderable == (
        "argocd/prometheus.yaml:14: spec.sources[0].helm.valueFiles[0]: $value names no source of this app "
        "(the sources' refs: $values); give the source holding this file ref: value"
    )
    assert apps["prometheus"].sources == (), "its sources are never loaded"
    assert apps["prometheus"].destination.namespace == "prometheus"
    assert apps["guestbook"].unrenderable == "", "the other Applications are evaluated as usual"
