"""Hostile or mistaken manifests: alias bombs, runaway nesting, duplicate keys, names a server refuses,
and links that lead nowhere. Each is one error naming the file (and line), never a traceback, and
the file's other documents, and the app's other files, still count."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import wire_json
from core.config import load_config
from core.errors import ConfigError, RenderError
from core.manifest_file import ParsedFile, parse_manifest_file
from core.model import ResourceKey
from core.object_names import name_rule_broken, namespace_rule_broken
from core.render import Renderer
from core.unreadable_file import UnreadableFile
from core.yaml_limits import MAX_ALIASED_NODES, MAX_EXPANDED_CHARACTERS, MAX_NESTING

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"

# Nine aliases of nine aliases... nine levels down: 9**9 (387 million) strings from ten lines.
LAUGHS = "".join(
    f"  {name}: &{name} [{','.join([f'*{inner}'] * 9)}]\n"
    for inner, name in zip("abcdefgh", "bcdefghi", strict=True)
)
BILLION_LAUGHS = CONFIGMAP.format(name="lol") + "data:\n  a: &a [" + ",".join(['"lol"'] * 9) + "]\n" + LAUGHS

# One long string repeated by a few aliases: few values, but more text than any request can carry.
WIDE_STRING = "x" * 200_000
REPEATS = MAX_EXPANDED_CHARACTERS // len(WIDE_STRING) + 1
WIDE_BOMB = f"  a: &a {WIDE_STRING}\n  b: [{', '.join(['*a'] * REPEATS)}]\n"


def parse(name: str, text: str | bytes) -> ParsedFile:
    return parse_manifest_file(name, text.encode() if isinstance(text, str) else text)


def only_error(parsed: ParsedFile) -> RenderError:
    assert len(parsed.errors) == 1, parsed.errors
    error = parsed.errors[0]
    assert "\n" not in str(error)
    return error


# Alias bombs and nesting


def test_a_billion_laughs_is_refused_before_it_is_built() -> None:
    parsed = parse("lol.yaml", BILLION_LAUGHS + "---\n" + CONFIGMAP.format(name="after"))

    error = only_error(parsed)
    assert (error.file, error.line) == ("lol.yaml", 1)
    assert f"document 1 expands its aliases into more than {MAX_ALIASED_NODES:,} values" in error.message
    assert "alias bomb" in error.message
    # The bomb is one document: the file's next document still counts.
    assert [manifest.name for manifest in parsed.manifests] == ["after"]


def test_an_alias_bomb_of_text_is_refused_at_the_line_that_repeats_it() -> None:
    assert REPEATS < MAX_ALIASED_NODES, "few values: only their text is too much"
    text = CONFIGMAP.format(name="wide") + "data:\n" + WIDE_BOMB + "---\n" + CONFIGMAP.format(name="after")

    error = only_error(parse("wide.yaml", text))

    assert (error.file, error.line) == ("wide.yaml", 7), "the line of the list of aliases"
    assert error.message == (
        "document 1 expands its aliases into more than 10 MiB of text (an alias bomb; the API server "
        "takes at most 3 MiB in a request); write the repeated values out or use fewer aliases"
    )


def test_text_repeated_by_aliases_below_the_bound_still_parses() -> None:
    text = CONFIGMAP.format(name="wide") + f"data:\n  a: &a {WIDE_STRING}\n  b: *a\n  c: *a\n"
    parsed = parse("wide.yaml", text)
    assert parsed.errors == ()
    assert parsed.manifests[0].obj["data"]["c"] == WIDE_STRING


def test_aliases_as_manifests_use_them_still_work() -> None:
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
        "  labels: &labels {app: web, tier: front}\n"
        "spec:\n  selector: {matchLabels: *labels}\n"
        "  template:\n    metadata: {labels: *labels}\n"
        "    spec:\n      containers:\n        - &c {name: web, image: 'web:1', args: ['*']}\n"
        "        - {<<: *c, name: sidecar}\n"
    )
    parsed = parse("web.yaml", text)

    assert parsed.errors == ()
    spec = parsed.manifests[0].obj["spec"]
    assert spec["template"]["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert spec["template"]["spec"]["containers"][1] == {"name": "sidecar", "image": "web:1", "args": ["*"]}


def test_an_alias_that_contains_itself_is_a_cycle_not_a_recursion_error() -> None:
    error = only_error(
        parse("loop.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: x\n  self: *m\n")
    )
    assert "document 1 has an alias that refers to itself" in error.message
    assert "remove the cycle" in error.message


@pytest.mark.parametrize(
    "nested",
    [
        pytest.param("[" * (MAX_NESTING + 5) + "]" * (MAX_NESTING + 5), id="flow-lists"),
        pytest.param(
            "".join(f"\n{'  ' * (level + 2)}k:" for level in range(MAX_NESTING + 5)) + " v", id="block-maps"
        ),
        pytest.param("{1: " * (MAX_NESTING + 5) + "x" + "}" * (MAX_NESTING + 5), id="maps-pyyaml-builds"),
    ],
)
def test_yaml_nested_past_the_bound_is_one_error_with_its_line(nested: str) -> None:
    text = CONFIGMAP.format(name="deep") + "data:\n  deep: " + nested + "\n"
    error = only_error(parse("deep.yaml", text))
    assert error.message.startswith(
        f"document 1 nests mappings and lists more than {MAX_NESTING} levels deep"
    )
    assert error.line is not None and error.line >= 6


@pytest.mark.parametrize(("lists", "kept"), [(MAX_NESTING - 1, True), (MAX_NESTING, False)])
def test_the_bound_counts_every_level(lists: int, kept: bool) -> None:
    # The top mapping is one level; `data: [[...]]` adds one per list.
    text = CONFIGMAP.format(name="deep") + "data: " + "[" * lists + "]" * lists + "\n"
    parsed = parse("deep.yaml", text)
    assert (len(parsed.manifests), len(parsed.errors)) == ((1, 0) if kept else (0, 1))


def test_yaml_nested_past_libyamls_own_limit_is_still_one_sentence() -> None:
    error = only_error(parse("deeper.yaml", CONFIGMAP.format(name="x") + "data: " + "[" * 100_000 + "\n"))
    assert error.message.startswith("bad YAML:") and error.message.endswith("; fix the syntax")


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 100_000])
def test_json_nested_past_the_bound_is_one_error_not_a_recursion_error(depth: int) -> None:
    text = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": ' + "[" * depth
    text += "]" * depth + "}"
    error = only_error(parse("deep.json", text))
    assert error.file == "deep.json"
    assert error.message.startswith(
        f"document 1 nests mappings and lists more than {MAX_NESTING} levels deep"
    )


def test_watch_json_nested_past_orjsons_limit_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="depth limit exceeded"):
        wire_json.loads(b"[" * 100_000 + b"]" * 100_000)
    assert wire_json.loads(b'"\\ud800"') == "\ud800"  # the standard library still takes what orjson refuses


# Duplicate keys


def test_a_key_written_twice_names_the_key_and_both_lines() -> None:
    text = (
        CONFIGMAP.format(name="web")
        + "data:\n  mode: a\n  other: b\n  mode: c\n---\n"
        + CONFIGMAP.format(name="ok")
    )
    parsed = parse("dup.yaml", text)

    error = only_error(parsed)
    assert (error.file, error.line) == ("dup.yaml", 8)
    assert error.message == (
        "document 1 sets the key 'mode' twice in one mapping (on lines 6 and 8); "
        "kubectl refuses duplicate keys, so keep one"
    )
    assert [manifest.name for manifest in parsed.manifests] == ["ok"]


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        pytest.param("{apiVersion: v1, kind: ConfigMap, metadata: {name: a, name: b}}", "name", 1, id="flow"),
        pytest.param(CONFIGMAP.format(name="x") + "data:\n  1: a\n  1: b\n", "1", 7, id="non-string-keys"),
        pytest.param(
            CONFIGMAP.format(name="x") + "data:\n  <<: {a: 1}\n  b: 2\n  b: 3\n", "b", 8, id="beside-a-merge"
        ),
    ],
)
def test_duplicate_keys_are_refused_on_every_path(text: str, key: str, line: int) -> None:
    error = only_error(parse("dup.yaml", text))
    assert error.line == line
    assert f"sets the key {key!r} twice" in error.message


def test_a_merge_may_still_override_the_keys_it_brings() -> None:
    parsed = parse("merge.yaml", CONFIGMAP.format(name="x") + "data:\n  <<: {a: '1', b: '2'}\n  b: '3'\n")
    assert parsed.errors == ()
    assert parsed.manifests[0].obj["data"] == {"a": "1", "b": "3"}


def test_a_json_key_written_twice_names_the_key_and_its_line() -> None:
    text = '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata": {"name": "x"},\n'
    text += '  "kind": "Secret"\n}'
    error = only_error(parse("dup.json", text))
    assert (error.file, error.line) == ("dup.json", 5)
    assert "sets the key 'kind' twice in one object" in error.message


def test_kubedrift_yaml_refuses_alias_bombs_deep_nesting_and_duplicate_keys(tmp_path: Path) -> None:
    bomb_lines = BILLION_LAUGHS.split("data:\n", 1)[1]
    cases = {
        "bomb": ("x-anchors:\n" + bomb_lines + "apps: []\n", "expands its aliases into more than"),
        "wide": ("x-anchors:\n" + WIDE_BOMB + "apps: []\n", "more than 10 MiB of text"),
        "deep": (
            "apps: " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1) + "\n",
            "nests mappings and lists",
        ),
        "cycle": ("apps: &a [*a]\n", "refers to itself"),
        "dup": ("apps: []\napps: []\n", "duplicate key 'apps'"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError) as raised:
            load_config(path)
        message = str(raised.value)
        assert expected in message and "invalid YAML" in message, (name, message)
        assert "\n" not in message


# Names


@pytest.mark.parametrize(
    ("group", "kind", "name", "rule"),
    [
        ("apps", "Deployment", "Web_App", "a DNS-1123 subdomain"),
        ("apps", "Deployment", "web." * 64 + "x", "a DNS-1123 subdomain"),
        ("", "ConfigMap", "-leading-dash", "a DNS-1123 subdomain"),
        ("", "Namespace", "team.a", "a DNS-1123 label"),
        ("", "Namespace", "a" * 64, "a DNS-1123 label"),
        ("", "Service", "1st-service", "a DNS-1035 label"),
        ("", "Service", "web.internal", "a DNS-1035 label"),
        ("rbac.authorization.k8s.io", "ClusterRole", "a/b", "usable in a URL path"),
        ("example.com", "Widget", "..", "usable in a URL path"),
        ("example.com", "Widget", "100%", "usable in a URL path"),
    ],
)
def test_names_a_server_refuses_break_that_kinds_rule(group: str, kind: str, name: str, rule: str) -> None:
    broken = name_rule_broken(group, kind, name)
    assert broken is not None and broken.startswith(rule)


@pytest.mark.parametrize(
    ("group", "kind", "name"),
    [
        ("apps", "Deployment", "web-1.v2"),
        ("", "Namespace", "team-a"),
        ("", "Service", "web"),
        ("rbac.authorization.k8s.io", "ClusterRole", "system:aggregate-to-view"),
        ("rbac.authorization.k8s.io", "RoleBinding", "Mixed_Case:ok"),
        ("user.openshift.io", "User", "ada@example.com"),  # unknown kinds: only path rules
        ("example.com", "Widget", "Any_Name.Goes"),
    ],
)
def test_names_a_server_accepts_pass(group: str, kind: str, name: str) -> None:
    assert name_rule_broken(group, kind, name) is None


def test_a_namespace_is_judged_only_where_the_kind_is_surely_namespaced() -> None:
    assert namespace_rule_broken("apps", "Deployment", "Team_A") is not None
    assert (
        namespace_rule_broken("rbac.authorization.k8s.io", "ClusterRole", "Team_A") is None
    )  # ignored there
    assert namespace_rule_broken("example.com", "Widget", "Team_A") is None  # scope unknown


def test_a_bad_name_is_an_error_of_its_document_and_the_rest_of_the_file_counts() -> None:
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: Web_App\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: Team_A\n---\n"
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: ok}\n"
        "- apiVersion: v1\n  kind: Namespace\n  metadata: {name: team.a}\n"
    )
    parsed = parse("names.yaml", text)

    assert [manifest.name for manifest in parsed.manifests] == ["ok"]
    assert [(error.line, error.message.split(",")[0]) for error in parsed.errors] == [
        (1, "document 1 (apps/Deployment) is named 'Web_App'"),
        (6, "document 2 (Service) has namespace 'Team_A'"),
        (18, "document 3"),
    ]
    first, second, third = (error.message for error in parsed.errors)
    assert "a Deployment name must be a DNS-1123 subdomain" in first and first.endswith("; rename it")
    assert "a namespace must be a DNS-1123 label" in second and second.endswith("; fix the namespace")
    assert "item 2 (Namespace) is named 'team.a'" in third


# Files that cannot be read


def test_an_unreadable_file_is_its_own_error_and_never_equal_to_real_bytes() -> None:
    link = UnreadableFile("is a symlink loop (a.yaml); fix or remove the link")
    assert link != bytes(link) and bytes(link) != link
    assert link == UnreadableFile("is a symlink loop (a.yaml); fix or remove the link")
    assert link != UnreadableFile(
        "is a symlink to x, which does not exist at this commit; fix or remove the link"
    )

    renderer = Renderer(default_namespace="shop")
    result = renderer.render({"a.yaml": link, "b.yaml": CONFIGMAP.format(name="b").encode()})
    assert not result.ok
    assert [str(error) for error in result.errors] == [
        "a.yaml: is a symlink loop (a.yaml); fix or remove the link"
    ]
    assert set(result.objects) == {ResourceKey("", "ConfigMap", "shop", "b")}
    # The parse cache tells a link that came back as a real file from the error it was.
    again = renderer.render({"a.yaml": bytes(link), "b.yaml": CONFIGMAP.format(name="b").encode()})
    assert [error.file for error in again.errors] == ["a.yaml"]
    assert "symlink" not in again.errors[0].message
