"""Multi-line values (ConfigMap files, scripts, embedded configs) diff line by line, as `kubectl diff`
shows them: the diff text writes them as block scalars, `check` text prints a unified line diff of
the value, and Secret values stay `***` whatever they hold."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from core.drift.rules import DEFAULT_RULES, SECRET_RULES
from core.drift.text import drift_text, removal_text, value_diff
from core.drift.yaml_text import fits_block_scalar, yaml_text
from core.model import (
    SECRET_MASK,
    AppStatus,
    AppSync,
    Change,
    Drift,
    Health,
    HealthStatus,
    ResourceKey,
    ResourceResult,
    SyncStatus,
)
from tui.commands.report import VALUE_DIFF_LINES, check_json, check_text
from tui.commands.terminal import Style

NGINX = "".join(
    [
        "user nginx;\n",
        "worker_processes auto;\n",
        "events {\n",
        "    worker_connections 1024;\n",
        "}\n",
        "http {\n",
        "\tinclude /etc/nginx/mime.types;\n",  # a tab, as nginx.conf files often have
        *(f"    map_hash_bucket_size_{n} 64;\n" for n in range(8, 40)),
        "    listen 80;\n",
        "}\n",
    ]
)
NGINX_EDITED = NGINX.replace("map_hash_bucket_size_20 64;", "map_hash_bucket_size_20 128;")
CONFIG_MAP = ResourceKey("", "ConfigMap", "shop", "nginx")


def config_map(conf: str, **extra: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "nginx", "namespace": "shop"},
        "data": {"nginx.conf": conf, **extra},
    }


def changed_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1] in "-+" and not line.startswith(("---", "+++"))]


def test_forty_line_file_with_one_changed_line_is_one_pair_with_context() -> None:
    assert NGINX.count("\n") == 41
    drift = Drift((Change("/data/nginx.conf", NGINX, NGINX_EDITED),))
    text = drift_text(config_map(NGINX), config_map(NGINX_EDITED), DEFAULT_RULES, drift)
    # The file's own four spaces, under the block's four.
    assert changed_lines(text) == [
        "-        map_hash_bucket_size_20 128;",
        "+        map_hash_bucket_size_20 64;",
    ]
    lines = text.splitlines()
    assert "  nginx.conf: |" in yaml_text(config_map(NGINX)).splitlines()
    at = lines.index("-        map_hash_bucket_size_20 128;")
    assert lines[at - 3 : at] == [f"         map_hash_bucket_size_{n} 64;" for n in (17, 18, 19)]
    assert lines[at + 2 : at + 5] == [f"         map_hash_bucket_size_{n} 64;" for n in (21, 22, 23)]
    assert sum(line.startswith("@@") for line in lines) == 1


def test_a_removed_file_line_that_starts_with_dashes_is_kept_and_the_header_goes() -> None:
    desired = config_map("-- a SQL comment\nselect 1;\n")
    live = config_map("-- a SQL comment\nselect 2;\n")
    text = drift_text(desired, live, DEFAULT_RULES, Drift((Change("/data/nginx.conf", "x", "y"),)))
    assert text.splitlines()[:2] == ["--- live", "+++ desired"]
    assert changed_lines(text) == ["-    select 2;", "+    select 1;"]


def test_removal_text_writes_files_as_blocks_too() -> None:
    text = removal_text(config_map("a\nb\n"), DEFAULT_RULES)
    assert "-  nginx.conf: |" in text.splitlines()
    assert "-    b" in text.splitlines()


@pytest.mark.parametrize(
    ("value", "header"),
    [
        ("line one\nline two\n", "|"),  # one trailing newline: clip
        ("line one\nline two", "|-"),  # no trailing newline: strip
        ("line one\nline two\n\n", "|+"),  # trailing blank lines: keep
        ("  indented first\nsecond\n", "|2"),  # leading spaces: an indentation indicator
        ("\ttab first\nsecond\n", "|2"),  # libyaml cannot guess the indentation from a tab
        ("\nblank first\n", "|2"),
        ("tab\tinside\n", "|"),
        ("ünïcode\n✓\n", "|"),
    ],
)
def test_block_scalars_round_trip_exactly(value: str, header: str) -> None:
    for shape in ({"data": {"k": value}}, {"items": [value, {"k": value}]}, value):
        dumped = yaml_text(shape)
        assert header in dumped.splitlines()[0] + " ".join(dumped.splitlines()), dumped
        assert '"' not in dumped, f"quoted, not a block: {dumped}"
        assert yaml.load(dumped, Loader=yaml.SafeLoader) == shape
        assert yaml.load(dumped, Loader=yaml.CSafeLoader) == shape


@pytest.mark.parametrize(
    "value",
    [
        "windows\r\nline endings\r\n",  # CRLF: a block scalar would read back LF
        "trailing space \nnext\n",
        "trailing tab\t\nnext\n",
        "   \n",
        "nel\x85line\n",
        "ls\u2028line\n",
        "bom\ufeff\nx\n",
        "nul\x00\nx\n",
        ' a "quote" and a \\ backslash\n  indented\n',
    ],
)
def test_strings_a_block_cannot_hold_are_quoted_line_by_line_and_round_trip(value: str) -> None:
    assert value.count("\n") and (not fits_block_scalar(value) or value.startswith(" "))
    for shape in (
        {"data": {"k": value}},
        {"items": [value, {"k": value}]},
        value,
        {"a": {"b": {"c": value}}},
    ):
        dumped = yaml_text(shape)
        assert yaml.load(dumped, Loader=yaml.SafeLoader) == shape, dumped
        assert yaml.load(dumped, Loader=yaml.CSafeLoader) == shape, dumped


def test_a_crlf_file_still_diffs_line_by_line() -> None:
    live = "".join(f"key{n} = {n}\r\n" for n in range(20))
    desired = live.replace("key10 = 10", "key10 = ten")
    drift = Drift((Change("/data/app.ini", desired, live),))
    text = drift_text(config_map(desired), config_map(live), DEFAULT_RULES, drift)
    assert changed_lines(text) == ["-    key10 = 10\\r\\n\\", "+    key10 = ten\\r\\n\\"]


def test_single_line_strings_are_dumped_as_before() -> None:
    obj = {"a": "plain", "b": "yes", "c": "12:30", "d": "", "e": "x: y", "f": 'say "hi"', "g": [1, None]}
    assert yaml_text(obj) == yaml.safe_dump(
        obj, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    assert yaml_text({"f": "line\n"}) == "f: |\n  line\n", "not PyYAML's 'line\\n\\n  '"


def test_value_diff_is_hunks_only_and_shows_line_end_changes() -> None:
    assert value_diff("a\nb\nc\n", "a\nB\nc\n") == ["@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"]
    assert value_diff("a\nb", "a\nb\n") == [
        "@@ -1,2 +1,2 @@",
        " a",
        "-b",
        "\\ No newline at end of file",
        "+b",
    ]
    assert value_diff("a\r\n", "a\n") == ["@@ -1 +1 @@", "-a\\r", "+a"]


def status_with(*changes: Change, kind: str = "ConfigMap") -> AppStatus:
    key = ResourceKey("", kind, "shop", "nginx")
    resource = ResourceResult(key, "v1", SyncStatus.OUT_OF_SYNC, HealthStatus(Health.HEALTHY), changes)
    return AppStatus("shop", AppSync.OUT_OF_SYNC, Health.HEALTHY, "abc123", (resource,))


def test_check_text_prints_a_multiline_change_as_a_line_diff() -> None:
    status = status_with(
        Change("/data/nginx.conf", NGINX, NGINX_EDITED), Change("/data/LOG", "info", "debug")
    )
    text = check_text([status], Style(colour=False))
    lines = text.splitlines()
    assert "    /data/nginx.conf: (- live, + desired)" in lines
    assert changed_lines("\n".join(line.strip() for line in lines)) == [
        "-    map_hash_bucket_size_20 128;",
        "+    map_hash_bucket_size_20 64;",
    ]
    assert "      -    map_hash_bucket_size_20 128;" in lines
    assert "           map_hash_bucket_size_17 64;" in lines, "context above"
    assert "           map_hash_bucket_size_23 64;" in lines, "context below"
    assert "map_hash_bucket_size_16" not in text and "map_hash_bucket_size_24" not in text
    assert "    /data/LOG: info -> debug" in lines, "one-line values read as before"
    assert "\\n" not in text, "no JSON string of the file"


def test_check_json_keeps_the_whole_values() -> None:
    status = status_with(Change("/data/nginx.conf", NGINX, NGINX_EDITED))
    (change,) = __import__("json").loads(check_json([status]))["apps"][0]["resources"][0]["changes"]
    assert change == {"path": "/data/nginx.conf", "desired": NGINX, "live": NGINX_EDITED}


def test_check_text_cuts_a_long_value_diff() -> None:
    old = "".join(f"old {n}\n" for n in range(100))
    new = "".join(f"new {n}\n" for n in range(100))
    lines = check_text([status_with(Change("/data/f", new, old))], Style(colour=False)).splitlines()
    head = lines.index("    /data/f: (- live, + desired)")
    assert lines[head + 1 + VALUE_DIFF_LINES] == "      … 161 more lines; kubedrift diff shows them all"


def test_check_text_colours_the_line_diff_on_a_terminal() -> None:
    text = check_text([status_with(Change("/data/f", "a\nb\n", "a\nc\n"))], Style(colour=True))
    assert "\x1b[31m-c\x1b[0m" in text and "\x1b[32m+b\x1b[0m" in text


def test_a_multiline_secret_is_masked_never_diffed() -> None:
    key_file = "-----BEGIN KEY-----\nAAAA\nBBBB\n-----END KEY-----\n"
    other = key_file.replace("BBBB", "CCCC")
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls", "namespace": "shop"},
        "stringData": {"tls.key": key_file, "note": "a\nb\n"},
    }
    live = {**desired, "data": {"tls.key": other, "note": "a\nb\n"}}
    del live["stringData"]
    drift = Drift((Change("/data/tls.key", SECRET_MASK, SECRET_MASK, secret=True),))
    text = drift_text(desired, live, SECRET_RULES, drift)
    for secret in ("AAAA", "BBBB", "CCCC", "BEGIN", "a\nb"):
        assert secret not in text
    assert changed_lines(text) == ["-  tls.key: '***'", "+  tls.key: '*** (changed)'"]
    assert "   note: '***'" in text.splitlines()
    check = check_text([status_with(*drift.changes, kind="Secret")], Style(colour=False))
    assert "    /data/tls.key: *** -> ***" in check.splitlines()


def test_a_file_against_an_absent_field_stays_on_its_line() -> None:
    text = check_text([status_with(Change("/data/new.conf", "a\nb\n", None))], Style(colour=False))
    assert '    /data/new.conf: "a\\nb\\n" -> (absent)' in text.splitlines()
