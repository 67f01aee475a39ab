"""`agents:` in kubedrift.yaml and `kubedrift attach URL...`: what they read, one sentence per mistake.

The token is a reference (a file, the environment), never a value in the file, and never in an error.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.agents_config import default_name, endpoint_from_url
from core.config import load_config
from core.errors import ConfigError

APPS = """\
apps:
  - name: shop
    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}
"""


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # errors name the config file relative to the working folder


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kubedrift.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(config_file(tmp_path, text))
    return str(raised.value)


def test_agents_alone_need_no_apps(tmp_path: Path) -> None:
    config = load_config(
        config_file(
            tmp_path,
            """\
            agents:
              - name: eu-1
                url: https://kubedrift.eu-1.example:8080/
                tokenFile: secrets/token
                caFile: ca.pem
              - url: http://10.0.0.7:8080
                token: {fromEnv: KUBEDRIFT_TOKEN}
                insecureSkipVerify: true
            """,
        )
    )
    assert config.apps == ()
    first, second = config.agents
    assert (first.name, first.url) == ("eu-1", "https://kubedrift.eu-1.example:8080")
    assert first.token is not None and first.token.from_file == tmp_path / "secrets" / "token"
    assert first.token_from_file and first.ca_file == tmp_path / "ca.pem"
    assert first.origin.startswith("kubedrift.yaml:2 ") or "agents[0]" in first.origin
    assert (second.name, second.insecure_skip_verify) == ("10.0.0.7:8080", True)
    assert second.token is not None and second.token.from_env == "KUBEDRIFT_TOKEN"
    assert not second.token_from_file
    assert second.token.resolve({"KUBEDRIFT_TOKEN": " t0ken\n"}) == "t0ken"


def test_agents_sit_beside_apps(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, APPS + "agents: [{url: 'https://a.example'}]\n"))
    assert [app.name for app in config.apps] == ["shop"]
    assert [agent.name for agent in config.agents] == ["a.example:443"]
    assert config.agents[0].token is None


def test_without_apps_or_agents_the_config_says_what_to_add(tmp_path: Path) -> None:
    assert "no apps are declared" in error_of(tmp_path, "theme: dark\n")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "{url: 'https://a.example', token: s3cret}",
            "token: the token must not be written in kubedrift.yaml",
        ),
        ("{url: 'https://a.example', token: {fromEnv: A, fromFile: b}}", "expected exactly one of fromEnv"),
        ("{url: 'https://a.example', token: {value: x}}", "unknown key 'value'"),
        ("{url: 'https://a.example', tokenFile: t, token: {fromEnv: A}}", "give the token once"),
        ("{url: 'ftp://a.example'}", "is not an http:// or https:// URL"),
        ("{url: 'https://user:pw@a.example'}", "carries credentials"),
        ("{url: 'https://a.example?token=x'}", "has a query or fragment"),
        ("{url: 'https://a.example:port'}", "is not a valid URL"),
        ("{url: 'https://'}", "has no host"),
        ("{name: a}", "missing required key 'url'"),
        ("{url: 'https://a.example', caFile: ca.pem, insecureSkipVerify: true}", "contradict each other"),
        ("{url: 'https://a.example', insecureSkipVerify: yes please}", "expected a boolean"),
        ("{url: 'https://a.example', tokenfile: t}", "did you mean 'tokenFile'?"),
    ],
)
def test_each_mistake_is_one_sentence_with_file_line_and_field(
    tmp_path: Path, entry: str, expected: str
) -> None:
    said = error_of(tmp_path, f"agents:\n  - {entry}\n")
    assert said.startswith("kubedrift.yaml:2: agents[0]")
    assert expected in said
    assert "s3cret" not in said and "pw@" not in said


def test_two_agents_of_one_name_are_refused(tmp_path: Path) -> None:
    said = error_of(
        tmp_path,
        """\
        agents:
          - {url: 'https://a.example:8080'}
          - {url: 'http://a.example:8080'}
        """,
    )
    assert "two agents are named 'a.example:8080' (first at kubedrift.yaml:2)" in said
    assert said.startswith("kubedrift.yaml:3: agents[1]")


def test_an_empty_agents_list_is_refused(tmp_path: Path) -> None:
    assert "the agents list is empty" in error_of(tmp_path, APPS + "agents: []\n")


def test_a_missing_token_variable_is_named_only_when_read(tmp_path: Path) -> None:
    config = load_config(
        config_file(tmp_path, "agents: [{url: 'https://a.example', token: {fromEnv: NOPE}}]\n")
    )
    token = config.agents[0].token
    assert token is not None
    with pytest.raises(ConfigError, match="the environment variable NOPE is not set or empty"):
        token.resolve({})


def test_attach_urls_become_endpoints(tmp_path: Path) -> None:
    endpoint = endpoint_from_url(
        "https://[::1]:9443/",
        token_file="token",
        ca_file="~/ca.pem",
        insecure_skip_verify=False,
        cwd=tmp_path,
    )
    assert (endpoint.name, endpoint.url) == ("[::1]:9443", "https://[::1]:9443")
    assert endpoint.token is not None and endpoint.token.from_file == tmp_path / "token"
    assert endpoint.ca_file == Path("~/ca.pem").expanduser()
    assert endpoint.origin == "the command line"
    with pytest.raises(ConfigError, match="the agent URL 'kubedrift:8080' is not an http:// or https:// URL"):
        endpoint_from_url("kubedrift:8080")


@pytest.mark.parametrize(
    ("url", "name"),
    [("http://agent:8080", "agent:8080"), ("https://agent", "agent:443"), ("http://agent/kd", "agent:80")],
)
def test_the_default_name_is_host_and_port(url: str, name: str) -> None:
    assert default_name(url) == name
