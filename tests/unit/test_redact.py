"""Credentials out of URLs: user info, secret query parameters, ssh forms, and URLs inside messages."""

from __future__ import annotations

import pytest

from core.errors import GitSourceError
from core.git_remote import clone_folder_name, network_failure
from core.redact import is_secret_parameter, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bot:TOKEN@github.com/org/repo", "https://github.com/org/repo"),
        ("https://TOKEN@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("https://oauth2:TOKEN@gitlab.example.com:8443/g/r.git", "https://gitlab.example.com:8443/g/r.git"),
        ("http://user:p@ss@127.0.0.1:1/x.git", "http://127.0.0.1:1/x.git"),  # the last @ ends it
        ("oci://robot:TOKEN@registry.example.com/charts", "oci://registry.example.com/charts"),
        ("git://bot:TOKEN@example.com/x", "git://example.com/x"),
        ("https://bot:TOKEN@[::1]:8080/x?ref=main#top", "https://[::1]:8080/x?ref=main#top"),
    ],
)
def test_user_info_is_dropped_from_non_ssh_urls(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo.git"),
        ("ssh://deploy:TOKEN@host:2222/org/repo.git", "ssh://deploy@host:2222/org/repo.git"),
        ("git+ssh://git:TOKEN@host/repo", "git+ssh://git@host/repo"),
        ("ssh://:TOKEN@host/repo", "ssh://host/repo"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),  # scp-like: no password field
    ],
)
def test_ssh_keeps_the_login_name_and_drops_the_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://git.example.com/r.git?token=TOKEN", "https://git.example.com/r.git"),
        ("https://h/x?ref=main&private_token=TOKEN&depth=1", "https://h/x?ref=main&depth=1"),
        ("https://h/x?access_token=TOKEN#frag", "https://h/x#frag"),
        (
            "https://bucket.s3.amazonaws.com/c.tgz?X-Amz-Credential=AKIA&X-Amz-Signature=TOKEN&X-Amz-Expires=60",
            "https://bucket.s3.amazonaws.com/c.tgz?X-Amz-Expires=60",
        ),
        (
            "https://acct.blob.core.windows.net/c?sv=2022&sig=TOKEN",
            "https://acct.blob.core.windows.net/c?sv=2022",
        ),
        ("https://h/x?PASSWORD=TOKEN&Api-Key=TOKEN&client_secret=TOKEN", "https://h/x"),
    ],
)
def test_secret_query_parameters_are_removed_with_their_values(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://host/x.git#private_token=SEKRET", "https://host/x.git"),
        ("https://h/cb#access_token=SEKRET&expires_in=3600", "https://h/cb#expires_in=3600"),
        ("https://h/x?ref=main#password=SEKRET", "https://h/x?ref=main"),
        ("https://h/x?token=SEKRET#sig=SEKRET&L10", "https://h/x#L10"),
        ("https://h/x?#api_key=SEKRET", "https://h/x?"),
    ],
)
def test_secret_pairs_in_the_fragment_are_removed_as_in_the_query(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_text(f"cannot read {url}: check it") == f"cannot read {shown}: check it"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/repo",
        "https://github.com/org/repo.git?ref=main&&x=1#L10",
        "https://docs.example/auth#token-refresh",
        "https://docs.example/auth#token",
        "http://127.0.0.1:6443/",
        "ssh://git@github.com/org/repo.git",
        "file:///srv/git/repo.git",
        "./gitops",
        "/home/me/gitops",
        "git@github.com:org/repo.git",
    ],
)
def test_a_url_without_a_secret_is_unchanged(url: str) -> None:
    assert redact_url(url) == url
    assert redact_text(f"cannot read {url}: check it") == f"cannot read {url}: check it"


def test_names_of_secret_parameters() -> None:
    secret = ["token", "ACCESS_TOKEN", "private_token", "password", "sig", "X-Amz-Signature", "apikey", "key"]
    plain = ["ref", "depth", "sv", "timeout", "X-Amz-Expires", "branch"]
    assert [name for name in secret + plain if is_secret_parameter(name)] == secret


def test_every_url_in_a_message_is_redacted_and_the_rest_kept() -> None:
    text = (
        "fatal: unable to access 'https://bot:TOKEN@127.0.0.1:1/x.git/': Failed to connect; "
        "mirror (https://h/y.git?token=TOKEN), then ssh://me:TOKEN@host/z. "
        'Also "oci://u:TOKEN@reg/c" and git@github.com:org/repo.git.'
    )
    assert redact_text(text) == (
        "fatal: unable to access 'https://127.0.0.1:1/x.git/': Failed to connect; "
        "mirror (https://h/y.git), then ssh://me@host/z. "
        'Also "oci://reg/c" and git@github.com:org/repo.git.'
    )


def test_a_traceback_quoting_gitpython_command_lines_loses_its_tokens() -> None:
    traceback = (
        "Traceback (most recent call last):\n"
        "git.exc.GitCommandError: Cmd('git') failed due to: exit code(128)\n"
        "  cmdline: git fetch --quiet -- https://bot:TOKEN@127.0.0.1:1/x.git +refs/heads/*:refs/heads/*\n"
        "  stderr: 'fatal: unable to access 'https://bot:TOKEN@127.0.0.1:1/x.git/': Connection refused'\n"
        "  repo = GitRepository('https://bot:TOKEN@127.0.0.1:1/x.git')\n"
    )
    redacted = redact_text(traceback)
    assert "TOKEN" not in redacted
    assert redacted.count("https://127.0.0.1:1/x.git") == 3
    assert redacted.splitlines()[0] == "Traceback (most recent call last):"


def test_git_source_errors_never_carry_a_credential() -> None:
    error = GitSourceError("revision 'main' not found in https://bot:TOKEN@example.com/r.git: fetch it")
    assert str(error) == "revision 'main' not found in https://example.com/r.git: fetch it"
    # git quotes the URL in its stderr; `x` and `TOKEN` are too short for failure_detail's own masking.
    stderr = "fatal: repository 'https://x:TOKEN@127.0.0.1:1/x.git/' not found"
    failure = network_failure("fetch", "https://x:TOKEN@127.0.0.1:1/x.git", stderr, 30)
    assert "TOKEN" not in str(failure)
    assert "(repository 'https://127.0.0.1:1/x.git/' not found)" in str(failure)


def test_a_clone_folder_name_holds_no_token() -> None:
    plain = clone_folder_name("https://git.example.com/org/repo.git")
    with_tokens = clone_folder_name("https://bot:TOKEN@git.example.com/org/repo.git?private_token=TOKEN")
    assert with_tokens == plain, "a rotated token keeps the clone"
    assert clone_folder_name("https://git.example.com/org/repo.git?ref=x") != plain
