"""The include entry of kubedrift.yaml: a path of manifests, or `{cluster, namespace}` read strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError

FILES = Path(__file__).parent.parent / "fixtures" / "flux" / "files"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kubedrift.yaml"
    path.write_text(text)
    return path


def test_a_path_include_never_reads_a_kubeconfig(tmp_path: Path) -> None:
    path = config(tmp_path, f"apps:\n  - include: {FILES}\n    tracking: flux\n")
    loaded = load_config(path, kubeconfig=str(tmp_path / "no-such-kubeconfig"), environ={})
    assert "flux-system-apps" in {app.name for app in loaded.apps}
    assert all(app.destination.name is None for app in loaded.apps), "from files: the current context"


@pytest.mark.parametrize(
    ("include", "message"),
    [
        (
            "{clustr: prod}",
            "kubedrift.yaml:2: apps[0].include: unknown key 'clustr'; allowed keys are cluster, namespace; "
            "did you mean 'cluster'?",
        ),
        (
            "{cluster: 3}",
            "kubedrift.yaml:2: apps[0].include.cluster: expected a non-empty string, got the number 3; "
            "put the value in quotes",
        ),
        (
            "[a, b]",
            "kubedrift.yaml:2: apps[0].include: expected a path of Argo CD Application or Flux manifests, or "
            "{cluster: CONTEXT, namespace: NS} to read them from a cluster",
        ),
    ],
)
def test_a_malformed_include_is_one_sentence(tmp_path: Path, include: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(config(tmp_path, f"apps:\n  - include: {include}\n"), environ={})
    assert str(raised.value).endswith(message)


def test_a_cluster_include_without_a_kubeconfig_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(
            config(tmp_path, "apps:\n  - include: {cluster: prod}\n"),
            kubeconfig=None,
            environ={"HOME": str(tmp_path)},
        )
    assert "apps[0].include: cannot read apps from a cluster: no kubeconfig found" in str(raised.value)
