"""`notifications:` in kubedrift.yaml: what it reads, and one sentence (file, line, field) per mistake.

Secrets are referenced (environment, file), never written inline, and never quoted in an error.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from core.notification_config import BodyFormat, Trigger, WebhookConfig, resolve_webhook

APPS = """\
apps:
  - name: shop
    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}
"""
SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"


def hooks_of(tmp_path: Path, notifications: str) -> tuple[WebhookConfig, ...]:
    path = tmp_path / "kubedrift.yaml"
    path.write_text(APPS + textwrap.dedent(notifications))
    return load_config(path).notifications


def error_of(tmp_path: Path, notifications: str) -> str:
    with pytest.raises(ConfigError) as raised:
        hooks_of(tmp_path, notifications)
    return str(raised.value)


def test_a_full_hook_is_read(tmp_path: Path) -> None:
    (hook,) = hooks_of(
        tmp_path,
        """\
        notifications:
          - name: oncall
            url: {fromEnv: SLACK_WEBHOOK_URL}
            format: slack
            triggers: [drift, rolledBack]
            apps: [shop, "team-*"]
            headers: {Authorization: {fromFile: secrets/token}, X-Team: sre}
        """,
    )
    assert hook.name == "oncall"
    assert hook.format is BodyFormat.SLACK
    assert hook.triggers == {Trigger.DRIFT, Trigger.ROLLED_BACK}
    assert hook.url.from_env == "SLACK_WEBHOOK_URL"
    assert hook.headers["Authorization"].from_file == tmp_path / "secrets/token", "relative to the config"
    assert hook.headers["X-Team"].inline == "sre"
    assert hook.wants("team-web", Trigger.DRIFT) and hook.wants("shop", Trigger.ROLLED_BACK)
    assert not hook.wants("billing", Trigger.DRIFT), "not in the apps filter"
    assert not hook.wants("shop", Trigger.SYNC_FAILED), "not a listed trigger"


def test_defaults_are_json_every_trigger_every_app(tmp_path: Path) -> None:
    (hook,) = hooks_of(tmp_path, "notifications:\n  - {name: audit, url: 'https://example.com/kubedrift'}\n")
    assert hook.format is BodyFormat.JSON
    assert hook.triggers == set(Trigger)
    assert all(hook.wants("anything", trigger) for trigger in Trigger)
    assert hook.url.inline == "https://example.com/kubedrift"


def test_no_notifications_is_an_empty_tuple(tmp_path: Path) -> None:
    path = tmp_path / "kubedrift.yaml"
    path.write_text(APPS)
    assert load_config(path).notifications == ()


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        (SLACK_URL, "XXXXSECRETXXXX"),
        ("https://user:hunter2@example.com/hook", "hunter2"),
        ("https://example.com/hook?token=abc123", "abc123"),
        ("https://discord.com/api/webhooks/1/SECRETPATH", "SECRETPATH"),
    ],
)
def test_an_inline_url_carrying_a_credential_is_refused_without_quoting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, secret: str
) -> None:
    monkeypatch.chdir(tmp_path)
    error = error_of(tmp_path, f"notifications:\n  - name: oncall\n    url: '{url}'\n")
    assert error.startswith("kubedrift.yaml:6: notifications[0].url: this URL carries a credential"), error
    assert "{fromEnv: VARIABLE} or {fromFile: PATH}" in error
    assert secret not in error


@pytest.mark.parametrize(
    ("notifications", "expected"),
    [
        (
            "notifications:\n  - {name: a, url: 'https://e.com/', triggers: [drfit]}\n",
            "kubedrift.yaml:5: notifications[0].triggers[0]: unknown trigger 'drfit'; "
            "expected some of drift, syncFailed, healthDegraded, rolledBack",
        ),
        (
            "notifications:\n  - {name: a, url: 'https://e.com/', format: teams}\n",
            "kubedrift.yaml:5: notifications[0].format: expected one of json, slack, got 'teams'",
        ),
        (
            "notifications:\n  - {name: a, url: 'https://e.com/', on: [drift]}\n",
            "kubedrift.yaml:5: notifications[0]: unknown key 'true'; allowed keys are name, url, format, "
            "triggers, apps, headers",
        ),
        (
            "notifications:\n  - name: a\n    url: ftp://e.com/x\n",
            "kubedrift.yaml:6: notifications[0].url: expected an http:// or https:// URL, "
            "or {fromEnv: VARIABLE} or {fromFile: PATH}",
        ),
        (
            "notifications:\n  - name: a\n    url: {fromEnv: X, fromFile: y}\n",
            "kubedrift.yaml:6: notifications[0].url: expected exactly one of fromEnv or fromFile, "
            "as {fromEnv: VARIABLE} or {fromFile: PATH}",
        ),
        (
            "notifications:\n  - name: a\n    url: {fromEnv: 'NOT A NAME'}\n",
            "kubedrift.yaml:6: notifications[0].url.fromEnv: 'NOT A NAME' is not an environment "
            "variable name",
        ),
        (
            "notifications:\n  - name: a\n    url: 'https://e.com/'\n"
            "    headers: {Authorization: Bearer x}\n",
            "kubedrift.yaml:7: notifications[0].headers.Authorization: the Authorization header is a "
            "credential; keep it out of the config with {fromEnv: VARIABLE} or {fromFile: PATH}",
        ),
        (
            "notifications:\n  - {name: a, url: 'https://e.com/'}\n  - {name: a, url: 'https://f.com/'}\n",
            "kubedrift.yaml:6: notifications[1].name: duplicate notification name 'a' "
            "(first declared at kubedrift.yaml:5)",
        ),
        (
            "notifications:\n  - {url: 'https://e.com/'}\n",
            "kubedrift.yaml:5: notifications[0]: missing required key 'name'",
        ),
        (
            "notifications:\n  - {name: a, url: 'https://e.com/', triggers: []}\n",
            "kubedrift.yaml:5: notifications[0].triggers: lists no trigger; list some of drift, syncFailed, "
            "healthDegraded, rolledBack, or leave it out for all",
        ),
    ],
)
def test_each_mistake_is_one_sentence_naming_file_line_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notifications: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert error_of(tmp_path, notifications) == expected


def test_references_are_read_at_start_and_never_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "token").write_text("Bearer s3cr3t\n")
    (hook,) = hooks_of(
        tmp_path,
        """\
        notifications:
          - name: oncall
            url: {fromEnv: HOOK_URL}
            headers: {Authorization: {fromFile: token}}
        """,
    )
    webhook = resolve_webhook(hook, {"HOOK_URL": SLACK_URL})
    assert webhook.url == SLACK_URL
    assert webhook.headers == {"Authorization": "Bearer s3cr3t"}, "the file's trailing newline dropped"
    assert webhook.endpoint == "https://hooks.slack.com", "what messages name: no path, which is the secret"
    assert set(webhook.secrets) == {SLACK_URL, "Bearer s3cr3t"}

    with pytest.raises(ConfigError) as unset:
        resolve_webhook(hook, {})
    assert str(unset.value) == (
        "kubedrift.yaml:6 notifications[0].url: the environment variable HOOK_URL is not set or empty; "
        "export it before starting kubedrift, or use {fromFile: PATH}"
    )
    (tmp_path / "token").unlink()
    with pytest.raises(ConfigError) as missing:
        resolve_webhook(hook, {"HOOK_URL": SLACK_URL})
    assert "cannot read the secret file" in str(missing.value) and "No such file or directory" in str(
        missing.value
    )
    with pytest.raises(ConfigError) as not_a_url:
        resolve_webhook(hook, {"HOOK_URL": "s3cr3t-pasted-in-the-wrong-place"})
    assert "$HOOK_URL does not hold an http:// or https:// URL" in str(not_a_url.value)
    assert "s3cr3t" not in str(not_a_url.value)
