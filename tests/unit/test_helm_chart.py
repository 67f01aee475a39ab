"""Helm charts rendered in-process by Helm's engine: values precedence, typing, capabilities, CRDs,
hooks, subcharts, and every failure as one sentence that names the chart's file."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import helm_chart
from core.errors import RenderError
from core.helm_chart import is_chart
from core.source_options import HelmFileParameter, HelmOptions, HelmParameter

CHARTS = Path(__file__).resolve().parent.parent / "fixtures" / "charts"
GUESTBOOK = CHARTS / "guestbook"
SHOP = CHARTS / "shop"
WIDGETS = CHARTS / "widgets"


def options(**changes: Any) -> HelmOptions:
    if isinstance(changes.get("values_object"), dict):
        changes["values_object"] = json.dumps(changes["values_object"])
    if "file_parameters" in changes:
        changes["file_parameters"] = tuple(HelmFileParameter(*pair) for pair in changes["file_parameters"])
    return HelmOptions(**changes)


def render_chart(
    chart: Path,
    helm: HelmOptions,
    *,
    repo_root: Path | None = None,
) -> bytes:
    """The module's render, as the app `demo` in namespace `shop` asks it (the options may say otherwise,
    as Argo CD's releaseName and namespace do)."""
    return helm_chart.render_chart(
        chart,
        helm,
        release_name=helm.release_name or "demo",
        namespace=helm.namespace or "shop",
        repo_root=repo_root,
    )


def objects(chart: Path, **changes: Any) -> dict[str, dict[str, Any]]:
    """The rendered objects keyed `Kind/name`."""
    stream = render_chart(chart, options(**changes))
    rendered = [doc for doc in yaml.safe_load_all(stream) if doc is not None]
    keyed = {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in rendered}
    assert len(keyed) == len(rendered), "an object is rendered twice"
    return keyed


def deployment(chart: Path = GUESTBOOK, **changes: Any) -> dict[str, Any]:
    return objects(chart, **changes)["Deployment/demo-guestbook"]


def container(chart: Path = GUESTBOOK, **changes: Any) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment(chart, **changes)["spec"]["template"]["spec"]["containers"]
    return containers[0]


def copy_chart(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / source.name))


def failure(chart: Path, repo_root: Path | None = None, **changes: Any) -> RenderError:
    with pytest.raises(RenderError) as caught:
        render_chart(chart, options(**changes), repo_root=repo_root)
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text, text
    assert caught.value.file and text.startswith(f"{caught.value.file}"), text
    return caught.value


# What gets rendered ------------------------------------------------------------------------------


def test_a_chart_is_a_folder_with_chart_yaml_at_its_root() -> None:
    assert is_chart({"Chart.yaml": b"", "templates/a.yaml": b""})
    assert not is_chart({"charts/sub/Chart.yaml": b"", "deploy.yaml": b""})


def test_the_guestbook_renders_its_objects_with_the_release_name_and_no_notes() -> None:
    stream = render_chart(GUESTBOOK, options())
    rendered = objects(GUESTBOOK)
    assert sorted(rendered) == [
        "Deployment/demo-guestbook",
        "PodDisruptionBudget/demo-guestbook",
        "Service/demo-guestbook",
    ]
    labels = rendered["Service/demo-guestbook"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == "demo"
    assert container()["image"] == "registry.example.com/guestbook-ui:1.0"
    assert b"# Source: guestbook/templates/deployment.yaml\n" in stream
    assert b"is served by" not in stream, "NOTES.txt is not a manifest"


def test_the_release_namespace_reaches_the_templates(tmp_path: Path) -> None:
    chart = copy_chart(GUESTBOOK, tmp_path)
    (chart / "templates" / "namespaced.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ns\n  namespace: {{ .Release.Namespace }}\n"
    )
    assert objects(chart, namespace="payments")["ConfigMap/ns"]["metadata"]["namespace"] == "payments"


def test_rendering_is_deterministic_and_a_generated_chart_of_50_templates_renders(tmp_path: Path) -> None:
    chart = tmp_path / "many"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: many\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicas: 2\nimage: registry.example.com/app:1.0\n")
    for index in range(50):
        (chart / "templates" / f"deployment-{index:02d}.yaml").write_text(
            DEPLOYMENT_TEMPLATE.replace("INDEX", str(index))
        )
    started = time.perf_counter()
    first = render_chart(chart, options(kube_version="1.30.0"))
    first_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    again = render_chart(chart, options(kube_version="1.30.0"))
    again_ms = (time.perf_counter() - started) * 1000
    print(f"\n50 templates: first render {first_ms:.1f} ms, repeat {again_ms:.1f} ms, {len(first)} bytes")
    assert first == again
    assert first.count(b"kind: Deployment") == 50
    assert b"cpu: 100m" in first, "the semverCompare branch for 1.30 was taken"


DEPLOYMENT_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-app-INDEX
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: app-INDEX}
  template:
    metadata:
      labels: {app: app-INDEX}
    spec:
      containers:
        - name: app
          image: {{ .Values.image | quote }}
          {{- if semverCompare ">=1.28-0" .Capabilities.KubeVersion.GitVersion }}
          resources: {{ dict "limits" (dict "cpu" "100m") | toYaml | nindent 12 }}
          {{- end }}
"""


def test_a_worker_thread_renders_what_the_caller_renders() -> None:
    expected = render_chart(SHOP, options())
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: render_chart(SHOP, options()), range(6)))
    assert results == [expected] * 6


# Values ------------------------------------------------------------------------------------------


def test_values_follow_argo_cds_precedence() -> None:
    production = ("values-production.yaml",)
    assert deployment()["spec"]["replicas"] == 1
    assert deployment(value_files=production)["spec"]["replicas"] == 3
    with_values = objects(GUESTBOOK, value_files=production, values="replicaCount: 4\nimage: {tag: '2.0'}\n")
    assert with_values["Deployment/demo-guestbook"]["spec"]["replicas"] == 4
    assert with_values["Service/demo-guestbook"]["spec"]["type"] == "LoadBalancer", "maps merge key by key"
    with_object = deployment(
        value_files=production, values="image: {tag: '2.0'}\n", values_object={"replicaCount": 5}
    )
    assert with_object["spec"]["replicas"] == 5
    assert with_object["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.0"), (
        "valuesObject replaces values, as in Argo CD"
    )
    with_parameter = deployment(
        value_files=production,
        values_object={"replicaCount": 5},
        parameters=(HelmParameter("replicaCount", "6"),),
    )
    assert with_parameter["spec"]["replicas"] == 6


def test_later_value_files_override_earlier_ones(tmp_path: Path) -> None:
    chart = copy_chart(GUESTBOOK, tmp_path)
    (chart / "values-canary.yaml").write_text("replicaCount: 7\n")
    assert (
        deployment(chart, value_files=("values-canary.yaml", "values-production.yaml"))["spec"]["replicas"]
        == 3
    )
    assert (
        deployment(chart, value_files=("values-production.yaml", "values-canary.yaml"))["spec"]["replicas"]
        == 7
    )


def test_set_types_its_value_and_force_string_keeps_it_a_string() -> None:
    def annotations(*parameters: HelmParameter) -> dict[str, Any]:
        found: dict[str, Any] = deployment(parameters=parameters)["spec"]["template"]["metadata"][
            "annotations"
        ]
        return found

    assert annotations(HelmParameter("podAnnotations.sidecar", "true")) == {"sidecar": True}
    forced = annotations(HelmParameter("podAnnotations.sidecar", "true", force_string=True))
    assert forced == {"sidecar": "true"}
    assert (
        container(parameters=(HelmParameter("containerPort", "8080"),))["ports"][0]["containerPort"] == 8080
    )
    commas = annotations(HelmParameter("podAnnotations.hosts", "a.example.com,b.example.com"))
    assert commas == {"hosts": "a.example.com,b.example.com"}, "a comma belongs to the value, as in Argo CD"


def test_set_on_a_list_item_edits_the_users_list_as_helm_does(tmp_path: Path) -> None:
    chart = copy_chart(GUESTBOOK, tmp_path)
    (chart / "values-env.yaml").write_text(
        "env: [{name: LOG_LEVEL, value: debug}, {name: MODE, value: web}]\n"
    )
    worker = (HelmParameter("env[1].value", "worker"),)
    env = container(chart, value_files=("values-env.yaml",), parameters=worker)["env"]
    assert env == [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "MODE", "value": "worker"}]
    # Helm sets into the user's values only, so a list that only the chart's values.yaml holds is
    # replaced by the one --set builds (helm template gives the same).
    assert container(parameters=worker)["env"] == [None, {"value": "worker"}]


def test_file_parameters_set_a_files_content() -> None:
    rendered = objects(GUESTBOOK, file_parameters=(("configFile", "files/app.conf"),))
    config = rendered["ConfigMap/demo-guestbook-config"]["data"]["app.conf"]
    assert config == (GUESTBOOK / "files" / "app.conf").read_text()


def test_a_missing_values_file_is_named_unless_ignored() -> None:
    error = failure(GUESTBOOK, value_files=("values-staging.yaml",))
    assert error.file == "values-staging.yaml"
    assert "ignoreMissingValueFiles" in str(error)
    assert (
        deployment(value_files=("values-staging.yaml",), ignore_missing_value_files=True)["spec"]["replicas"]
        == 1
    )


def test_paths_that_leave_the_repository_are_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    chart = copy_chart(GUESTBOOK, repo)
    (repo / "shared.yaml").write_text("replicaCount: 9\n")
    inside = render_chart(chart, options(value_files=("../shared.yaml",)), repo_root=repo)
    assert b"replicas: 9" in inside
    from_root = render_chart(chart, options(value_files=("/shared.yaml",)), repo_root=repo)
    assert from_root == inside, "an absolute path starts at the repository root, as in Argo CD"
    escaping = failure(chart, repo, value_files=("../../../../etc/passwd",), ignore_missing_value_files=True)
    assert escaping.file == "../../../../etc/passwd" and "outside the repository" in str(escaping)
    (tmp_path / "secret.conf").write_text("password\n")
    (chart / "files" / "link.conf").symlink_to(tmp_path / "secret.conf")
    linked = failure(chart, repo, file_parameters=(("configFile", "files/link.conf"),))
    assert linked.file == "files/link.conf" and "outside the repository" in str(linked)
    assert "outside the repository" in str(failure(chart, value_files=("../shared.yaml",))), (
        "without a repository root, the chart folder is the bound"
    )


# Capabilities, CRDs and hooks --------------------------------------------------------------------


def test_kube_version_reaches_semver_compare() -> None:
    assert objects(GUESTBOOK, kube_version="1.29.4")["PodDisruptionBudget/demo-guestbook"]["apiVersion"] == (
        "policy/v1"
    )
    assert objects(GUESTBOOK, kube_version="v1.20.0")["PodDisruptionBudget/demo-guestbook"]["apiVersion"] == (
        "policy/v1beta1"
    )


def test_api_versions_reach_capabilities_has() -> None:
    assert "ServiceMonitor/demo-guestbook" not in objects(GUESTBOOK)
    with_monitoring = objects(GUESTBOOK, api_versions=("monitoring.coreos.com/v1",))
    assert with_monitoring["ServiceMonitor/demo-guestbook"]["spec"]["endpoints"] == [{"port": "http"}]


def test_crds_come_first_unless_skipped_and_hooks_keep_their_annotation() -> None:
    stream = render_chart(WIDGETS, options())
    assert stream.startswith(b"---\n# Source: widgets/crds/widgets.example.com.yaml\n")
    rendered = objects(WIDGETS)
    assert "CustomResourceDefinition/widgets.example.com" in rendered
    assert rendered["Widget/demo-default"]["spec"] == {"size": 3}
    hook = rendered["Job/demo-migrate"]["metadata"]["annotations"]
    assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"
    skipped = objects(WIDGETS, skip_crds=True)
    assert "CustomResourceDefinition/widgets.example.com" not in skipped
    assert sorted(skipped) == sorted(set(rendered) - {"CustomResourceDefinition/widgets.example.com"})


def test_a_kube_version_the_chart_does_not_support_is_refused() -> None:
    error = failure(WIDGETS, kube_version="1.22.0")
    assert error.file == "Chart.yaml"
    assert ">=1.25.0-0" in str(error) and "v1.22.0" in str(error)
    assert "Widget/demo-default" in objects(WIDGETS, kube_version="1.31.0")
    for chart in (GUESTBOOK, WIDGETS):
        unreadable = failure(chart, kube_version="latest")
        assert "source.helm.kubeVersion" in str(unreadable) and "latest" in str(unreadable)


# Subcharts ---------------------------------------------------------------------------------------


def test_a_vendored_subchart_renders_with_the_parents_values() -> None:
    rendered = objects(SHOP)
    cache = rendered["Deployment/demo-cache"]["spec"]["template"]["spec"]["containers"][0]
    assert cache["args"] == ["--maxmemory", "64mb"]
    assert rendered["ConfigMap/demo-shop"]["data"]["cacheAddress"] == "demo-cache:6379"
    disabled = objects(SHOP, parameters=(HelmParameter("cache.enabled", "false"),))
    assert sorted(disabled) == ["ConfigMap/demo-shop"]


def test_a_subchart_archived_in_charts_renders_as_the_folder_does(tmp_path: Path) -> None:
    chart = copy_chart(SHOP, tmp_path)
    with tarfile.open(chart / "charts" / "cache-1.2.0.tgz", "w:gz") as archive:
        archive.add(chart / "charts" / "cache", arcname="cache")
    shutil.rmtree(chart / "charts" / "cache")
    assert render_chart(chart, options()) == render_chart(SHOP, options())


def test_a_declared_dependency_missing_from_charts_is_named(tmp_path: Path) -> None:
    chart = copy_chart(SHOP, tmp_path)
    shutil.rmtree(chart / "charts")
    error = failure(chart)
    assert error.file == "Chart.yaml"
    assert "cache" in str(error) and "helm dependency build" in str(error)


# Failures ----------------------------------------------------------------------------------------


def test_a_broken_template_names_its_file_and_line(tmp_path: Path) -> None:
    chart = copy_chart(GUESTBOOK, tmp_path)
    (chart / "templates" / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.service.port | nosuchfunc }}\n"
    )
    error = failure(chart)
    assert (error.file, error.line) == ("templates/broken.yaml", 4)
    assert "nosuchfunc" in str(error)


def test_a_nil_value_names_the_template_and_line(tmp_path: Path) -> None:
    chart = copy_chart(GUESTBOOK, tmp_path)
    (chart / "templates" / "nil.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.missing.key }}\n"
    )
    error = failure(chart)
    assert (error.file, error.line) == ("templates/nil.yaml", 6)
    assert "nil pointer" in str(error)


def test_a_missing_required_value_names_the_template() -> None:
    error = failure(GUESTBOOK, parameters=(HelmParameter("image.repository", "null"),))
    assert error.file == "templates/deployment.yaml"
    assert "image.repository is required" in str(error)


def test_a_bad_chart_yaml_is_named(tmp_path: Path) -> None:
    chart = copy_chart(GUESTBOOK, tmp_path)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: [guestbook\nversion: 0.1.0\n")
    error = failure(chart)
    assert (error.file, error.line) == ("Chart.yaml", 2)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: guestbook\n")
    assert "version is required" in str(failure(chart))


def test_a_broken_subchart_names_its_own_file(tmp_path: Path) -> None:
    chart = copy_chart(SHOP, tmp_path)
    (chart / "charts" / "cache" / "values.yaml").write_text("maxMemory: [64mb\n")
    error = failure(chart)
    assert error.file == "charts/cache/values.yaml"


def test_a_template_that_renders_unreadable_yaml_is_named(tmp_path: Path) -> None:
    chart = copy_chart(GUESTBOOK, tmp_path)
    (chart / "templates" / "skewed.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: 1\n"
    )
    assert failure(chart).file == "templates/skewed.yaml"


def test_values_the_schema_refuses_name_the_schema(tmp_path: Path) -> None:
    chart = copy_chart(GUESTBOOK, tmp_path)
    (chart / "values.schema.json").write_text(
        '{"type": "object", "properties": {"replicaCount": {"type": "integer", "minimum": 1}}}'
    )
    error = failure(chart, parameters=(HelmParameter("replicaCount", "0"),))
    assert error.file == "values.schema.json" and "/replicaCount" in str(error)


def test_bad_values_and_parameters_are_named(tmp_path: Path) -> None:
    chart = copy_chart(GUESTBOOK, tmp_path)
    (chart / "values-broken.yaml").write_text("replicaCount: 2\nimage: [\n")
    broken = failure(chart, value_files=("values-broken.yaml",))
    assert broken.file == "values-broken.yaml" and broken.line is not None
    assert failure(chart, values="- a\n- b\n").file == "Chart.yaml"
    assert "env[-1]" in str(failure(chart, parameters=(HelmParameter("env[-1].value", "x"),)))
    assert "release name" in str(failure(chart, release_name="Not_A_Name"))


# Charts from a Helm repository -------------------------------------------------------------------


@pytest.fixture
def chart_repository(tmp_path: Path) -> Iterator[str]:
    """An HTTP Helm repository (index.yaml and a packaged guestbook) served from a thread."""
    import helm_python

    served = tmp_path / "served"
    served.mkdir()
    helm_python.package(GUESTBOOK, destination=served)

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=served)
    )
    url = f"http://127.0.0.1:{server.server_port}"
    helm_python.repo_index_generate(served, base_url=url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        thread.join()


PULL = """\
import sys, helm_python
helm_python.pull("guestbook", repo_url=sys.argv[1], version="0.1.0", destination=sys.argv[2], untar=True,
                 untar_dir=sys.argv[2])
"""


def test_a_chart_pulled_from_a_helm_repository_renders_like_its_source(
    chart_repository: str, tmp_path: Path
) -> None:
    # Helm's Go side reads its environment once, when the process starts: a private cache folder can
    # only be given to a process that starts with it, so the pull runs in one.
    pulled, cache = tmp_path / "pulled", tmp_path / "cache"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    environment = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "HELM_CACHE_HOME": str(cache),
        "TMPDIR": str(scratch),
    }
    done = subprocess.run(
        [sys.executable, "-c", PULL, chart_repository, str(pulled)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # The index goes through $HELM_CACHE_HOME/repository (default ~/.cache/helm), removed afterwards.
    assert (cache / "repository").is_dir() and not any((cache / "repository").iterdir())
    assert not (tmp_path / "home").exists() and not any(scratch.iterdir()), "its scratch folders are removed"
    production = options(value_files=("values-production.yaml",))
    assert render_chart(pulled / "guestbook", production) == render_chart(GUESTBOOK, production)
