"""Jsonnet files evaluated as Argo CD's directory apps evaluate them: extVars, tlas and libs, the
import search, the output shapes Argo CD takes, the bounds on evaluation, and every failure as one
sentence that names the file and line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from core import jsonnet_render
from core.errors import RenderError
from core.jsonnet_render import is_jsonnet_path, render_jsonnet
from core.manifest_file import is_manifest_path, parse_manifest_file
from core.source_options import JsonnetOptions, JsonnetVariable

ROOT = Path(__file__).resolve().parent.parent.parent
REPO = ROOT / "tests" / "fixtures" / "jsonnet"
"""The fixtures folder stands for a repository: one app per folder, and a library under vendor/."""


def var(name: str, value: str, code: bool = False) -> JsonnetVariable:
    return JsonnetVariable(name, value, code)


def objects(stream: bytes) -> list[dict[str, Any]]:
    """The objects kubedrift's manifest parser reads from the stream (Lists expanded)."""
    parsed = parse_manifest_file("app.jsonnet", stream, lines_known=False)
    assert parsed.errors == ()
    return [manifest.obj for manifest in parsed.manifests]


def render(app: str, **options: Any) -> list[dict[str, Any]]:
    return objects(render_jsonnet(REPO / app, "guestbook.jsonnet", JsonnetOptions(**options), repo_root=REPO))


def by_kind(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["kind"]: obj for obj in rendered}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty repository with an app folder, beside a folder outside it holding a secret."""
    (tmp_path / "repo" / "app").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.libsonnet").write_text("{ password: 'hunter2' }\n")
    return tmp_path / "repo"


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def app_render(repo: Path, text: str, options: JsonnetOptions | None = None) -> bytes:
    write(repo, {"app/app.jsonnet": text})
    return render_jsonnet(repo / "app", "app.jsonnet", options or JsonnetOptions(), repo_root=repo)


# What is evaluated -------------------------------------------------------------------------------


def test_only_jsonnet_files_are_evaluated_and_libraries_are_neither_evaluated_nor_manifests() -> None:
    assert is_jsonnet_path("guestbook.jsonnet")
    assert is_jsonnet_path("envs/prod/app.jsonnet")
    assert not is_jsonnet_path("params.libsonnet")
    assert not is_jsonnet_path(".hidden/app.jsonnet")
    assert not is_jsonnet_path("app.json")
    assert not is_manifest_path("params.libsonnet")
    assert not is_manifest_path("guestbook.jsonnet")


def test_a_file_marked_to_skip_renders_nothing(repo: Path) -> None:
    assert app_render(repo, "// +argocd:skip-file-rendering\n{ kind: 'x' }\n") == b""


# Objects -----------------------------------------------------------------------------------------


def test_the_guestbook_is_a_service_and_a_deployment_from_the_params_beside_it() -> None:
    rendered = by_kind(render("guestbook"))
    assert set(rendered) == {"Service", "Deployment"}
    deployment = rendered["Deployment"]
    assert deployment["metadata"]["name"] == "guestbook-ui"
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/guestbook:v5"
    assert rendered["Service"]["spec"]["ports"] == [{"port": 80, "targetPort": 8080}]


def test_each_item_of_the_output_is_one_json_document(repo: Path) -> None:
    stream = app_render(repo, "[{ kind: 'A', n: 1 }, null, { kind: 'B', n: 2.5 }]")
    assert stream.decode().split("\n") == [
        "---",
        '{"kind": "A", "n": 1}',
        "---",
        "null",
        "---",
        '{"kind": "B", "n": 2.5}',
        "",
    ]


def test_the_stream_reads_as_yaml_exactly_as_its_json_reads(repo: Path) -> None:
    """Characters YAML folds or refuses and numbers of every kind read from the YAML stream as from
    the JSON Argo CD unmarshals (as kubectl would send them: integral below 1e21 is an integer); a
    key past YAML's 1024-character limit for a simple key still reads."""
    text = """
    local meta(name) = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name } };
    [
      meta('odd') + {
        data: { text: 'nel\\u0085 ls\\u2028 del\\u007f bom\\ufeff é 😀 tab\\t' },
        numbers: [1e30, 0.1, 1e20, 1e21, -0, 1.5e-7, 9007199254740993, 3.0, 42],
      },
      meta('long') + { data: { [std.repeat('k', 1500)]: 'v' } },
    ]
    """
    stream = app_render(repo, text)
    odd, long = objects(stream)
    as_json = parse_manifest_file("app.json", stream.decode().splitlines()[1].encode()).manifests[0].obj
    assert odd == as_json
    assert odd["data"]["text"] == "nel\x85 ls\u2028 del\x7f bom\ufeff é 😀 tab\t"
    numbers = odd["numbers"]
    assert numbers == [1e30, 0.1, 1e20, 1e21, 0, 1.5e-7, 9007199254740992, 3, 42]
    assert [type(number) for number in numbers] == [float, float, int, float, int, float, int, int, int]
    assert long["data"] == {"k" * 1500: "v"}


def test_a_list_is_one_document_that_the_manifest_parser_expands() -> None:
    stream = render_jsonnet(
        REPO / "guestbook-tla",
        "guestbook.jsonnet",
        JsonnetOptions(tlas=(var("name", "gb"),)),
        repo_root=REPO,
    )
    assert stream.count(b"---\n") == 1 and b'"kind": "List"' in stream
    assert [obj["kind"] for obj in objects(stream)] == ["Service", "Deployment"]


def test_null_gives_no_objects(repo: Path) -> None:
    assert app_render(repo, "null") == b""
    assert objects(app_render(repo, "[null, null]")) == []


# extVars, tlas and the build environment ---------------------------------------------------------


def test_ext_vars_go_as_strings_or_as_code() -> None:
    as_code = by_kind(
        render("guestbook-ext", ext_vars=(var("environment", "prod"), var("replicas", "1 + 2", True)))
    )
    deployment = as_code["Deployment"]
    assert deployment["metadata"]["name"] == "guestbook-prod"
    assert deployment["spec"]["replicas"] == 3
    as_string = by_kind(
        render("guestbook-ext", ext_vars=(var("environment", "dev"), var("replicas", "1 + 2")))
    )
    assert as_string["Deployment"]["spec"]["replicas"] == "1 + 2"


def test_tlas_go_as_strings_or_as_code_and_defaults_fill_the_rest() -> None:
    rendered = by_kind(render("guestbook-tla", tlas=(var("name", "shop"), var("replicas", "4", True))))
    deployment = rendered["Deployment"]
    assert deployment["metadata"]["name"] == "shop"
    assert deployment["spec"]["replicas"] == 4
    assert deployment["metadata"]["labels"] == {"app": "shop"}
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example/guestbook:v5"
    as_string = by_kind(render("guestbook-tla", tlas=(var("name", "shop"), var("replicas", "4"))))
    assert as_string["Deployment"]["spec"]["replicas"] == "4"
    labelled = by_kind(
        render("guestbook-tla", tlas=(var("name", "shop"), var("labels", "{ tier: 'web' }", True)))
    )
    assert labelled["Service"]["metadata"]["labels"] == {"tier": "web"}


def test_a_name_given_twice_keeps_its_last_entry(repo: Path) -> None:
    def value(*entries: JsonnetVariable) -> Any:
        stream = app_render(repo, "[{ v: std.extVar('v') }]", JsonnetOptions(ext_vars=entries))
        return json.loads(stream.decode().splitlines()[1])["v"]

    assert value(var("v", "a"), var("v", "b")) == "b"
    assert value(var("v", "1"), var("v", "1 + 1", True)) == 2
    assert value(var("v", "1 + 1", True), var("v", "1")) == "1"


def test_values_get_the_build_environment_as_argo_cd_substitutes_it(repo: Path) -> None:
    """Go's os.Expand with Argo CD's mapping: known names, unknown ones empty, `$$` a dollar."""
    write(repo, {"app/app.jsonnet": "[{ e: std.extVar('e'), t: t }]".join(["function(t) ", ""])})
    value = "$ARGOCD_APP_NAME/${ARGOCD_APP_NAMESPACE}/$$/$UNKNOWN/${}/$1/cost: 5$"
    options = JsonnetOptions(ext_vars=(var("e", value),), tlas=(var("t", "'${ARGOCD_APP_NAME}'", True),))
    env = {"ARGOCD_APP_NAME": "guestbook", "ARGOCD_APP_NAMESPACE": "shop"}
    stream = render_jsonnet(repo / "app", "app.jsonnet", options, repo_root=repo, build_env=env)
    assert json.loads(stream.decode().splitlines()[1]) == {
        "e": "guestbook/shop/$////cost: 5$",
        "t": "guestbook",
    }


# Imports and libs --------------------------------------------------------------------------------


def test_libs_are_folders_of_the_repository_root_even_with_a_leading_slash() -> None:
    for lib in ("vendor/kube", "/vendor/kube"):
        rendered = by_kind(render("guestbook-libs", libs=(lib,)))
        assert rendered["Deployment"]["spec"]["replicas"] == 3
        assert rendered["Service"]["metadata"]["name"] == "guestbook-ui"


def test_imports_look_beside_the_file_then_in_libs_last_first_then_in_the_app_folder(repo: Path) -> None:
    write(
        repo,
        {
            "app/sub/app.jsonnet": (
                "[{ a: import 'a.libsonnet', b: import 'b.libsonnet', c: import 'c.libsonnet', "
                "d: importstr 'linked.txt' }]"
            ),
            "app/sub/a.libsonnet": "'beside'",
            "lib1/a.libsonnet": "'lib1'",
            "lib1/b.libsonnet": "'lib1'",
            "lib2/b.libsonnet": "'lib2'",
            "app/c.libsonnet": "'app folder'",
            "lib2/c.libsonnet": "'lib2'",
            "lib1/text.txt": "in the repository",
        },
    )
    (repo / "app" / "sub" / "linked.txt").symlink_to(repo / "lib1" / "text.txt")
    options = JsonnetOptions(libs=("lib1", "lib2"))
    stream = render_jsonnet(repo / "app", "sub/app.jsonnet", options, repo_root=repo)
    found = json.loads(stream.decode().splitlines()[1])
    assert found == {"a": "beside", "b": "lib2", "c": "lib2", "d": "in the repository"}
    stream = render_jsonnet(repo / "app", "sub/app.jsonnet", JsonnetOptions(libs=("lib1",)), repo_root=repo)
    assert json.loads(stream.decode().splitlines()[1])["c"] == "app folder"


# Bounds and determinism --------------------------------------------------------------------------


def test_the_same_files_and_options_give_the_same_bytes_from_any_thread() -> None:
    options = JsonnetOptions(tlas=(var("name", "gb"), var("replicas", "2", True)))

    def once(_: int) -> bytes:
        return render_jsonnet(REPO / "guestbook-tla", "guestbook.jsonnet", options, repo_root=REPO)

    with ThreadPoolExecutor(4) as pool:
        streams = list(pool.map(once, range(4)))
    assert len(set(streams)) == 1 and streams[0]


def test_calls_nest_about_as_deep_as_argo_cd_lets_them(repo: Path) -> None:
    """500 frames, go-jsonnet's default too: 400 nested calls evaluate, 1,000 are an error."""
    depth = "local depth(n) = if n == 0 then 0 else 1 + depth(n - 1);\n[{{ depth: depth({}) }}]\n"
    assert b'"depth": 400' in app_render(repo, depth.format(400))
    with pytest.raises(RenderError, match="max stack frames exceeded"):
        app_render(repo, depth.format(1000))


def test_a_loop_without_end_is_stopped_by_the_time_limit(repo: Path) -> None:
    write(repo, {"app/app.jsonnet": "local f(n) = f(n) tailstrict;\nf(0)\n"})
    started = time.monotonic()
    with pytest.raises(RenderError) as raised:
        render_jsonnet(repo / "app", "app.jsonnet", JsonnetOptions(), repo_root=repo, timeout_seconds=1)
    assert time.monotonic() - started < 5
    assert str(raised.value) == (
        "app.jsonnet: Jsonnet took longer than 1 s; look for a loop without end or an output far "
        "larger than any app needs"
    )


def test_running_out_of_memory_is_an_error_and_not_a_crash(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libjsonnet aborts its process when an allocation fails: only the child's process goes."""
    monkeypatch.setattr(jsonnet_render, "MAX_MEMORY_BYTES", 256 * 1024**2)
    with pytest.raises(RenderError, match=r"^app\.jsonnet: Jsonnet ran out of memory \(it may use 256 MiB\)"):
        app_render(repo, "std.makeArray(100000000, function(i) i)")


def test_an_output_over_the_limit_is_refused(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonnet_render, "MAX_OUTPUT_CHARACTERS", 1000)
    with pytest.raises(RenderError, match=r"the output is longer than 1,000 characters"):
        app_render(repo, "[{ kind: 'ConfigMap', data: { a: std.repeat('x', 2000) } }]")


def test_importing_and_rendering_never_load_jsonnet_in_the_caller() -> None:
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from core.jsonnet_render import render_jsonnet\n"
        "from core.source_options import JsonnetOptions\n"
        f"repo = Path({str(REPO)!r})\n"
        "assert render_jsonnet(repo / 'guestbook', 'guestbook.jsonnet', JsonnetOptions(), repo_root=repo)\n"
        "print('_jsonnet' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# Failures: one sentence, naming the file and the line --------------------------------------------


RUNTIME_ERROR = "{\n  apiVersion: 'v1',\n  kind: error 'no kind for ' + 'you',\n}\n"
CALLS_A_LIBRARY = "local checks = import 'checks.libsonnet';\n\n[checks.small(5)]\n"
CHECKS = "{\n  small(n):: if n > 2 then error 'too big: ' + n else n,\n}\n"
FAILURES: dict[str, tuple[dict[str, str], JsonnetOptions, int | None, str]] = {
    "syntax": (
        {"app/app.jsonnet": "{\n  a: 1\n  b: 2,\n}\n"},
        JsonnetOptions(),
        3,
        "bad Jsonnet: expected a comma before next field; fix the syntax",
    ),
    "error at runtime": (
        {"app/app.jsonnet": RUNTIME_ERROR},
        JsonnetOptions(),
        3,
        "Jsonnet stops with an error: no kind for you; fix the code or the values it is given",
    ),
    "error in a library": (
        {"app/app.jsonnet": CALLS_A_LIBRARY, "lib/checks.libsonnet": CHECKS},
        JsonnetOptions(libs=("lib",)),
        3,
        "Jsonnet stops with an error in ../lib/checks.libsonnet:2: too big: 5; fix the code or the values",
    ),
    "syntax of an import": (
        {
            "app/app.jsonnet": "local b = import 'bad.libsonnet';\nb\n",
            "app/bad.libsonnet": "{\n a: (1 +\n}\n",
        },
        JsonnetOptions(),
        None,
        'bad Jsonnet in bad.libsonnet:3, which this file imports: unexpected: "}" while parsing terminal',
    ),
    "missing import": (
        {"app/app.jsonnet": "local m = import 'missing.libsonnet';\nm\n"},
        JsonnetOptions(),
        1,
        'cannot import "missing.libsonnet": no such file beside the importing file, in '
        "source.directory.jsonnet.libs or in the app folder; fix the import",
    ),
    "import leaving the repository": (
        {"app/app.jsonnet": "import '../../outside/secret.libsonnet'\n"},
        JsonnetOptions(),
        1,
        'cannot import "../../outside/secret.libsonnet": it leads outside the repository, which kubedrift '
        "refuses to read",
    ),
    "import through a symlink leaving the repository": (
        {"app/app.jsonnet": "{ s: importstr 'linked.libsonnet' }\n"},
        JsonnetOptions(),
        1,
        'cannot import "linked.libsonnet": it leads outside the repository',
    ),
    "libs leaving the repository": (
        {"app/app.jsonnet": "{}\n"},
        JsonnetOptions(libs=("../outside",)),
        None,
        "source.directory.jsonnet.libs entry '../outside' leads outside the repository",
    ),
    "a string": (
        {"app/app.jsonnet": "'manifests'\n"},
        JsonnetOptions(),
        None,
        "the file evaluates to a string",
    ),
    "nested arrays": (
        {"app/app.jsonnet": "[[{ kind: 'A' }]]\n"},
        JsonnetOptions(),
        None,
        "item 1 of the output is an array, which Argo CD does not take; flatten the output",
    ),
    "an item that is no object": (
        {"app/app.jsonnet": "[{ kind: 'A' }, true]\n"},
        JsonnetOptions(),
        None,
        "item 2 of the output is a boolean, not an object",
    ),
    "missing tla": (
        {"app/app.jsonnet": "function(name)\n  { name: name }\n"},
        JsonnetOptions(),
        None,
        "the file is a function whose parameter name has no value; set it in source.directory.jsonnet.tlas",
    ),
    "unknown tla": (
        {"app/app.jsonnet": "function(name)\n  { name: name }\n"},
        JsonnetOptions(tlas=(var("name", "a"), var("nmae", "b"))),
        None,
        "source.directory.jsonnet.tlas sets nmae, which the file's function does not take",
    ),
    "tla that is not code": (
        {"app/app.jsonnet": "function(replicas)\n  { replicas: replicas }\n"},
        JsonnetOptions(tlas=(var("replicas", "3 +", True),)),
        None,
        "source.directory.jsonnet.tlas replicas is not valid Jsonnet code (unexpected end of file)",
    ),
    "undefined extVar": (
        {"app/app.jsonnet": "{\n  env: std.extVar('env'),\n}\n"},
        JsonnetOptions(),
        2,
        "std.extVar('env') has no value; set env in source.directory.jsonnet.extVars",
    ),
    "extVar code failing": (
        {"app/app.jsonnet": "{\n  env: std.extVar('env'),\n}\n"},
        JsonnetOptions(ext_vars=(var("env", "error 'boom'", True),)),
        None,
        "Jsonnet stops with an error in source.directory.jsonnet.extVars env: boom",
    ),
    "deep recursion": (
        {"app/app.jsonnet": "local f(n) = f(n + 1) + 1;\nf(0)\n"},
        JsonnetOptions(),
        1,
        "Jsonnet calls nest more than 500 deep (max stack frames exceeded); look for a function",
    ),
    "a NUL byte in a value": (
        {"app/app.jsonnet": "{}\n"},
        JsonnetOptions(ext_vars=(var("env", "a\0b"),)),
        None,
        "source.directory.jsonnet.extVars 'env' holds a NUL byte",
    ),
}


@pytest.mark.parametrize("case", FAILURES)
def test_each_failure_is_one_sentence_naming_the_file_and_line(repo: Path, case: str) -> None:
    files, options, line, expected = FAILURES[case]
    write(repo, files)
    if case.startswith("import through a symlink"):
        (repo / "app" / "linked.libsonnet").symlink_to(repo.parent / "outside" / "secret.libsonnet")
    with pytest.raises(RenderError) as raised:
        render_jsonnet(repo / "app", "app.jsonnet", options, repo_root=repo)
    error = raised.value
    assert (error.file, error.line) == ("app.jsonnet", line)
    assert expected in error.message
    shown = str(error)
    assert "\n" not in shown and "\t" not in shown and "Traceback" not in shown
    assert str(repo.parent) not in shown, "an absolute path leaked into the message"


def test_a_file_that_is_a_symlink_out_of_the_repository_is_not_read(repo: Path) -> None:
    (repo / "app" / "app.jsonnet").symlink_to(repo.parent / "outside" / "secret.libsonnet")
    with pytest.raises(RenderError, match=r"^app\.jsonnet: this file leads outside the repository"):
        render_jsonnet(repo / "app", "app.jsonnet", JsonnetOptions(), repo_root=repo)


def test_a_file_that_is_not_utf8_is_refused(repo: Path) -> None:
    (repo / "app" / "app.jsonnet").write_bytes(b"{ a: '\xff' }\n")
    with pytest.raises(RenderError, match=r"^app\.jsonnet: the file is not UTF-8 text; save it as UTF-8$"):
        render_jsonnet(repo / "app", "app.jsonnet", JsonnetOptions(), repo_root=repo)


def test_the_child_interpreter_ignores_modules_in_the_current_folder(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository is often the current folder: a `json.py` in it must not run in the evaluation."""
    (repo / "json.py").write_text("raise SystemExit('shadowed')\n")
    monkeypatch.chdir(repo)
    assert objects(app_render(repo, "[{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } }]"))
    assert os.getcwd() == str(repo)
