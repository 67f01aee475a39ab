"""Reading kubeconfig contexts without the kubernetes client: merging path lists, and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.kubeconfig import ClusterConfigError, load_kubeconfig
from core.model import Destination

ROOT = Path(__file__).resolve().parents[2]
DEV = """\
apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster: {server: https://dev.example}
- name: prod
  cluster: {server: https://prod.example}
contexts:
- name: dev
  context: {cluster: dev, user: me}
- name: prod
  context: {cluster: prod, user: me}
current-context: dev
users:
- name: me
  user: {token: secret}
"""
STAGING = """\
clusters:
- name: dev
  cluster: {server: https://elsewhere.example}
- name: staging
  cluster: {server: https://staging.example}
contexts:
- name: dev
  context: {cluster: staging, user: me}
- name: staging
  context: {cluster: staging, user: me}
current-context: staging
"""


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_contexts_map_to_their_cluster_servers(tmp_path: Path) -> None:
    kubeconfig = load_kubeconfig(write(tmp_path / "config", DEV), environ={})
    assert kubeconfig.contexts == {"dev": "https://dev.example", "prod": "https://prod.example"}
    assert kubeconfig.current_context == "dev"
    assert kubeconfig.context_for(Destination(server="https://prod.example/")) == "prod"


def test_a_path_list_merges_as_kubectl_does(tmp_path: Path) -> None:
    paths = os.pathsep.join([write(tmp_path / "a", DEV), write(tmp_path / "b", STAGING)])
    kubeconfig = load_kubeconfig(None, environ={"KUBECONFIG": paths})
    # The first file naming a context or a cluster, or setting current-context, wins (checked against
    # `KUBECONFIG=a:b kubectl.1.31 config current-context`, which prints the first file's).
    assert kubeconfig.contexts == {
        "dev": "https://dev.example",
        "prod": "https://prod.example",
        "staging": "https://staging.example",
    }
    assert kubeconfig.current_context == "dev"
    assert kubeconfig.source == paths


def test_no_current_context_asks_for_one_only_when_it_is_needed(tmp_path: Path) -> None:
    kubeconfig = load_kubeconfig(write(tmp_path / "config", DEV.replace("current-context: dev\n", "")))
    assert kubeconfig.current_context is None
    assert kubeconfig.context_for(Destination(), "prod") == "prod"
    with pytest.raises(ClusterConfigError, match="has no current context: pass --context"):
        kubeconfig.context_for(Destination())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("- a list\n", "does not hold a mapping"),
        ("contexts: 3\n", "contexts in .* must be a list of entries with a name"),
        ("clusters: [{cluster: {}}]\n", "clusters in .* must be a list of entries with a name"),
        ("contexts: [\n", r"invalid YAML in .* at line 2: "),
    ],
)
def test_a_broken_kubeconfig_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ClusterConfigError, match=f"cannot read kubeconfig .*{message}") as raised:
        load_kubeconfig(write(tmp_path / "config", text), environ={})
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("explicit", "environ", "advice"),
    [
        (True, {}, "pass --kubeconfig the config file inside it"),
        (False, {"KUBECONFIG": "{folder}"}, "set KUBECONFIG to the config file inside it"),
        (False, {"KUBECONFIG": "{file}" + os.pathsep + "{folder}"}, "set KUBECONFIG to the config file"),
        (False, {"HOME": "{home}"}, "move the config file to ~/.kube/config, or pass --kubeconfig"),
    ],
)
def test_a_kubeconfig_that_is_a_folder_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, explicit: bool, environ: dict[str, str], advice: str
) -> None:
    folder = tmp_path / "home" / ".kube" / "config"
    folder.mkdir(parents=True)
    names = {"folder": str(folder), "file": write(tmp_path / "good", DEV), "home": str(tmp_path / "home")}
    environ = {key: value.format(**names) for key, value in environ.items()}
    monkeypatch.setenv("HOME", environ.pop("HOME", os.environ["HOME"]))
    shown = str(folder) if explicit or environ else "~/.kube/config"

    with pytest.raises(ClusterConfigError) as raised:
        load_kubeconfig(str(folder) if explicit else None, environ=environ)

    assert str(raised.value).startswith(f"kubeconfig {shown} is a folder, not a file: {advice}")


def test_reading_contexts_does_not_load_the_kubernetes_client(tmp_path: Path) -> None:
    path = write(tmp_path / "config", DEV)
    probe = (
        "import sys\nfrom core.kubeconfig import load_kubeconfig\n"
        f"load_kubeconfig({path!r}).context_for(__import__('core.model').model.Destination())\n"
        "print('kubernetes' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"
