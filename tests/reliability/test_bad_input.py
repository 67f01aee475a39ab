"""Bad input a user can cause, end to end: each is one sentence naming where it is and what to do,
never a traceback, a hang or a stray log line, and everything else is still evaluated.

- Symlinks in Git that loop, leave the repository or lead nowhere are errors of those files: the
  app's other files render, and its render is not OK, so prune refuses.
- A kubeconfig whose credentials cannot be used (a missing certificate or key, data that is not
  base64, a credential plugin that fails, is not installed or hangs) is refused when `kubedrift
  check` builds the client, naming the context, the setting or the plugin, against a real API server.

Parsing limits (alias bombs, nesting, duplicate keys, names) are unit-tested in
`tests/unit/test_manifest_limits.py`; the credential messages in `tests/unit/test_kube_credentials.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.desired_state import AppDesiredState
from core.model import App, Destination, ResourceKey, Source
from core.prune import PruneRefused, check_prune_allowed
from sandbox.handle import SANDBOX_TOKEN, SandboxThread
from tests.integration.gitops import git
from tui import cli
from tui.commands import check

ROOT = Path(__file__).resolve().parent.parent.parent
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: value\n"


# Symlinks in Git


def test_links_that_loop_leave_the_repository_or_dangle_are_errors_of_their_files(tmp_path: Path) -> None:
    repo = tmp_path / "gitops"
    shop = repo / "apps" / "shop"
    shop.mkdir(parents=True)
    (repo / "base").mkdir()
    (repo / "base" / "shared.yaml").write_text(CONFIGMAP.format(name="shared"))
    (repo / "base-link").symlink_to("base")
    (tmp_path / "outside.yaml").write_text(CONFIGMAP.format(name="outside"))
    (shop / "web.yaml").write_text(CONFIGMAP.format(name="web"))
    links = {
        "shared.yaml": "../../base/shared.yaml",  # fine: inside the repository
        "through-a-folder-link.yml": "../../base-link/shared.yaml",  # fine, but a duplicate of shared
        "loop-a.yaml": "loop-b.yaml",
        "loop-b.yaml": "loop-a.yaml",
        "escape.yaml": "../../../outside.yaml",
        "passwd.yaml": "/etc/passwd",
        "gone.yaml": "../../base/gone.yaml",
    }
    for name, target in links.items():
        (shop / name).symlink_to(target)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links")
    app = App("shop", Source(str(repo), "main", "apps/shop"), Destination(namespace="shop"))

    state = AppDesiredState(app, cache_dir=tmp_path / "cache").load()

    assert set(state.objects) == {
        ResourceKey("", "ConfigMap", "shop", "web"),
        ResourceKey("", "ConfigMap", "shop", "shared"),
    }
    assert not state.render_ok
    problems = {error.split(":", 1)[0]: error for error in state.errors}
    assert problems["loop-a.yaml"] == "loop-a.yaml: is a symlink loop (loop-b.yaml); fix or remove the link"
    assert problems["loop-b.yaml"] == "loop-b.yaml: is a symlink loop (loop-a.yaml); fix or remove the link"
    for name in ("escape.yaml", "passwd.yaml"):
        outside = (
            f"is a symlink to {links[name]}, outside the repository; kubedrift reads only files inside it"
        )
        assert problems[name] == f"{name}: {outside}"
    assert problems["gone.yaml"].endswith("which does not exist at this commit; fix or remove the link")
    # The link through a folder link reads the same file, so it is a duplicate, not a broken link.
    assert "is declared twice" in problems["through-a-folder-link.yml"]
    assert all("\n" not in error for error in state.errors)
    with pytest.raises(PruneRefused, match="its manifests failed to render"):
        check_prune_allowed(app, state)


# Credentials, through the CLI against the sandbox


def kubeconfig_with_broken_users(path: Path, url: str, plugin: Path) -> dict[str, str]:
    """A kubeconfig of contexts that each break one way; returns context -> what its error must say."""
    users: dict[str, dict[str, Any]] = {
        "missing-cert": {"client-certificate": "/nonexistent/cert.pem", "client-key": "/nonexistent/key.pem"},
        "not-base64": {"client-certificate-data": "not base64!!", "client-key-data": "eA=="},
        "plugin-fails": {
            "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin)}
        },
        "plugin-missing": {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": "no-such-credential-helper",
            }
        },
        "sandbox": {"token": SANDBOX_TOKEN},
    }
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": {"server": url}}],
        "users": [{"name": name, "user": user} for name, user in users.items()],
        "contexts": [{"name": name, "context": {"cluster": "sandbox", "user": name}} for name in users],
        "current-context": "sandbox",
    }
    path.write_text(yaml.safe_dump(document))
    return {
        "missing-cert": "its client-certificate file /nonexistent/cert.pem does not exist; fix the path",
        "not-base64": "its client-certificate-data is not valid base64",
        "plugin-fails": f"its credential plugin {plugin} failed "
        "(exit code 1: error: the SSO session has expired); run it yourself",
        "plugin-missing": "its credential plugin no-such-credential-helper is not installed "
        "(not found on PATH); install it",
    }


def test_unusable_credentials_are_one_sentence_per_context_with_no_stray_lines(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    plugin = tmp_path / "sso-helper"
    plugin.write_text(
        "#!/bin/sh\necho 'fetching a token' >&2\necho 'error: the SSO session has expired' >&2\nexit 1\n"
    )
    plugin.chmod(0o755)
    kubeconfig = tmp_path / "kubeconfig"
    expected = kubeconfig_with_broken_users(kubeconfig, sandbox.url, plugin)
    apps = []
    for context in expected:
        folder = tmp_path / "manifests" / context
        folder.mkdir(parents=True)
        (folder / "settings.yaml").write_text(CONFIGMAP.format(name="settings"))
        apps.append(
            {
                "name": context,
                "source": {"repoURL": str(folder), "targetRevision": ""},
                "destination": {"name": context, "namespace": "shop"},
            }
        )
    (tmp_path / "kubedrift.yaml").write_text(yaml.safe_dump({"apps": apps}))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }

    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "check", "--kubeconfig", str(kubeconfig)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a hang fails here
        check=False,
    )

    assert done.returncode == 2, done.stdout + done.stderr
    output = done.stdout + done.stderr
    for context, reason in expected.items():
        errors = [line for line in output.splitlines() if line.startswith(f"{context}: error: ")]
        assert len(errors) == 1, (context, output)
        assert errors[0].startswith(f"{context}: error: cannot use context {context!r} from {kubeconfig}: ")
        assert reason in errors[0], (context, errors[0])
    for stray in ("Traceback", "ERROR:", "WARNING:", "fetching a token"):
        assert stray not in output, output


def test_a_credential_plugin_that_hangs_is_stopped_within_the_give_up_promise(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    plugin = tmp_path / "sso-helper"
    plugin.write_text(
        f"#!/bin/sh\necho $$ > {tmp_path}/plugin.pid\nsleep 300 &\necho $! > {tmp_path}/child.pid\nwait\n"
    )
    plugin.chmod(0o755)
    kubeconfig = tmp_path / "kubeconfig"
    exec_config = {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "sandbox", "cluster": {"server": sandbox.url}}],
                "users": [{"name": "sso", "user": {"exec": exec_config}}],
                "contexts": [{"name": "sso", "context": {"cluster": "sandbox", "user": "sso"}}],
                "current-context": "sso",
            }
        )
    )
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "settings.yaml").write_text(CONFIGMAP.format(name="settings"))
    (tmp_path / "kubedrift.yaml").write_text(
        yaml.safe_dump({"apps": [{"name": "shop", "source": {"repoURL": str(folder), "targetRevision": ""}}]})
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "check", "--kubeconfig", str(kubeconfig)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    took = time.monotonic() - started

    assert took < 20, "a one-shot command gives up within 20 s"
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"shop: error: cannot use context 'sso' from {kubeconfig}: its credential plugin {plugin} gave no "
        "answer within 15 s and was stopped; run it yourself to see what it waits for"
    ) in done.stdout
    for pid_file in ("plugin.pid", "child.pid"):
        pid = (tmp_path / pid_file).read_text().strip()
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] in ("Z", "X"), pid_file


# Anything else too big


def test_running_out_of_memory_blames_the_input_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def too_big(args: object) -> int:
        raise MemoryError

    monkeypatch.setattr(check, "run", too_big)
    assert cli.main(["check"]) == cli.EXIT_ERROR
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("kubedrift: ran out of memory: the input is too large")
