"""Health checks in Argo CD's Lua format (core.lua_health): the folder layout, the scripts' verdicts
over Argo CD's test objects, the override order, the sandbox and its limits, and the `healthChecks:`
key of kubedrift.yaml that points at them."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.config import load_config
from core.engine import Engine
from core.errors import ConfigError
from core.health import health_of
from core.lua_health import LuaHealthChecks, LuaHealthScript, read_health_scripts
from core.model import App, Health, HealthStatus, ResourceKey, Source
from core.reconcile import AppReconciler
from tests.unit.test_health_argo_kinds import ARGO_FIXTURES, fixture_cases

Obj = dict[str, Any]
LUA_FIXTURES = Path(__file__).parent.parent / "fixtures" / "health" / "lua"


@pytest.fixture(scope="module")
def fixture_checks() -> LuaHealthChecks:
    return LuaHealthChecks(read_health_scripts(LUA_FIXTURES, "checks"))


@pytest.fixture
def script_checks(tmp_path: Path) -> Callable[..., LuaHealthChecks]:
    """Checks from one script for `acme.io/Widget`, written to a folder of their own."""

    def make(source: str, **limits: Any) -> LuaHealthChecks:
        folder = tmp_path / "checks" / "acme.io" / "Widget"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "health.lua").write_text(source)
        return LuaHealthChecks(read_health_scripts(tmp_path / "checks", "checks"), **limits)

    return make


def widget(**status: Any) -> Obj:
    return {
        "apiVersion": "acme.io/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop", "labels": {"tier": "web"}},
        "spec": {"size": 3, "tags": ["a", "b"], "nothing": None},
        "status": status,
    }


def judge(checks: LuaHealthChecks, obj: Obj) -> HealthStatus:
    check = checks.check_for("acme.io", "Widget")
    assert check is not None
    return check(obj)


# --- The folder ---------------------------------------------------------------------------------------


def test_folder_layout_is_argo_cds() -> None:
    scripts = read_health_scripts(LUA_FIXTURES, "checks")
    assert [(script.group, script.kind, script.path) for script in scripts] == [
        ("", "ConfigMap", "checks/ConfigMap/health.lua"),
        ("*.example.io", "*", "checks/_.example.io/_/health.lua"),
        ("apps", "Deployment", "checks/apps/Deployment/health.lua"),
        ("cert-manager.io", "Certificate", "checks/cert-manager.io/Certificate/health.lua"),
        ("flagger.app", "Canary", "checks/flagger.app/Canary/health.lua"),
        ("policy", "PodDisruptionBudget", "checks/policy/PodDisruptionBudget/health.lua"),
    ]
    assert all(script.source.strip() for script in scripts)


def test_exact_folder_wins_over_a_wildcard(tmp_path: Path) -> None:
    for folder in ("_.example.io/_", "jobs.example.io/Queue"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "health.lua").write_text(f'return {{status = "Healthy", message = "{folder}"}}')
    checks = LuaHealthChecks(read_health_scripts(tmp_path, "checks"))
    queue = {"apiVersion": "jobs.example.io/v1", "kind": "Queue"}
    other = {"apiVersion": "jobs.example.io/v1", "kind": "Worker"}
    assert health_of(queue, checks).message == "jobs.example.io/Queue"
    assert health_of(other, checks).message == "_.example.io/_"


@pytest.mark.parametrize(
    ("group", "kind", "judged"),
    [
        ("jobs.example.io", "Queue", True),
        ("a.b.example.io", "Anything", True),
        ("example.io", "Queue", False),  # `*.example.io` needs a subdomain, as in Argo CD's globs
        ("", "Queue", False),
        ("apps", "Deployment", True),  # its own exact folder
        ("apps", "StatefulSet", False),
        ("", "ConfigMap", True),
        ("", "Secret", False),
    ],
)
def test_which_kinds_have_a_check(
    fixture_checks: LuaHealthChecks, group: str, kind: str, judged: bool
) -> None:
    assert (fixture_checks.check_for(group, kind) is not None) is judged


# --- Verdicts ----------------------------------------------------------------------------------------

SCRIPTED_KINDS = ("Certificate", "PodDisruptionBudget", "Canary")
ARGO_CASES_OF_SCRIPTED_KINDS = [
    case for case in fixture_cases(ARGO_FIXTURES) if case.values[0]["kind"] in SCRIPTED_KINDS
]


def test_argo_cases_are_there_for_each_scripted_kind() -> None:
    assert {case.values[0]["kind"] for case in ARGO_CASES_OF_SCRIPTED_KINDS} == set(SCRIPTED_KINDS)


@pytest.mark.parametrize(("obj", "expected"), ARGO_CASES_OF_SCRIPTED_KINDS)
def test_scripts_give_argo_cds_verdicts(
    fixture_checks: LuaHealthChecks, obj: Obj, expected: HealthStatus
) -> None:
    group = obj["apiVersion"].rpartition("/")[0]
    check = fixture_checks.check_for(group, obj["kind"])
    assert check is not None
    assert check(obj) == expected
    assert health_of(obj, fixture_checks) == expected


def test_script_wins_over_the_built_in_rule(fixture_checks: LuaHealthChecks) -> None:
    parked = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": 2, "annotations": {"example.io/parked": "true"}},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 1},
    }
    assert health_of(parked).status is Health.PROGRESSING
    assert health_of(parked, fixture_checks) == HealthStatus(Health.SUSPENDED, "parked by someone")


def test_numbers_in_messages_read_as_in_argo_cd(fixture_checks: LuaHealthChecks) -> None:
    # 3 and 1 arrive as integers; Lua 5.1 and 5.2 write them without a ".0".
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 3},
        "status": {"readyReplicas": 1},
    }
    assert health_of(deployment, fixture_checks) == HealthStatus(Health.PROGRESSING, "1 of 3 ready")


def test_core_kind_script(fixture_checks: LuaHealthChecks) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"maintenance": "on"}}
    assert health_of(config_map, fixture_checks) == HealthStatus(Health.SUSPENDED, "maintenance mode")


def test_wildcard_script_uses_argo_cds_libraries(fixture_checks: LuaHealthChecks) -> None:
    # require("os"), string methods, string.format, table.getn and goto, as Argo CD's scripts use them.
    conditions = [
        {"type": "Synced", "status": "True"},
        {"type": "Ready", "status": "False", "reason": "FailedToPull", "message": "no such image"},
    ]
    queue = {"apiVersion": "jobs.example.io/v1", "kind": "Queue", "status": {"conditions": conditions}}
    assert health_of(queue, fixture_checks) == HealthStatus(Health.DEGRADED, "failedtopull: no such image")
    conditions[1] = {"type": "Ready", "status": "True"}
    assert health_of(queue, fixture_checks) == HealthStatus(Health.HEALTHY, "Queue is ready (2 conditions)")
    queue["status"]["heartbeat"] = 1_000_000  # os.time() is far past it
    assert health_of(queue, fixture_checks) == HealthStatus(Health.UNKNOWN, "no heartbeat for a day")


def test_object_being_deleted_is_progressing_whatever_the_script_says(
    fixture_checks: LuaHealthChecks,
) -> None:
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"},
    }
    assert health_of(config_map, fixture_checks) == HealthStatus(Health.PROGRESSING, "Pending deletion")


def test_object_reaches_the_script_as_argo_cd_hands_it(script_checks: Callable[..., LuaHealthChecks]) -> None:
    checks = script_checks(
        """
        assert(obj.metadata.labels.tier == "web")
        assert(#obj.spec.tags == 2 and obj.spec.tags[1] == "a")
        assert(obj.spec.nothing == nil)
        assert(obj.spec.size + 0.5 == 3.5)
        return {status = "Healthy", message = obj.status.phase}
        """
    )
    assert judge(checks, widget(phase="Running")) == HealthStatus(Health.HEALTHY, "Running")


def test_each_run_starts_with_fresh_globals(script_checks: Callable[..., LuaHealthChecks]) -> None:
    checks = script_checks(
        """
        runs = (runs or 0) + 1
        string.upper = nil
        return {status = "Healthy", message = tostring(runs) .. (("x"):upper())}
        """
    )
    assert judge(checks, widget()) == HealthStatus(Health.HEALTHY, "1X")
    assert judge(checks, widget()) == HealthStatus(Health.HEALTHY, "1X")


# --- Scripts that cannot say -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("os.execute('touch /tmp/kubedrift-was-here')", "os.execute is not available to health checks"),
        ("io.open('/etc/passwd')", "io is not available to health checks"),
        ("require('io')", "module 'io' is not available to health checks"),
        ("load('return 1')()", "load is not available to health checks"),
        ("loadstring('return 1')()", "loadstring is not available to health checks"),
        ("dofile('/etc/passwd')", "dofile is not available to health checks"),
        ("debug.getinfo(1)", "debug is not available to health checks"),
        ("collectgarbage()", "collectgarbage is not available to health checks"),
        ("coroutine.create(print)", "coroutine is not available to health checks"),
        ("return string.dump(print)", "attempt to call field 'dump'"),
        ("getmetatable('').__index.upper = nil", "attempt to index a boolean value"),
        ("python.eval('1')", "attempt to index global 'python'"),
    ],
)
def test_sandbox_lets_a_script_read_the_object_and_nothing_more(
    script_checks: Callable[..., LuaHealthChecks], source: str, says: str
) -> None:
    health = judge(script_checks(source), widget())
    assert health.status is Health.UNKNOWN
    assert health.message.startswith("The health check checks/acme.io/Widget/health.lua failed (line 1: ")
    assert says in health.message
    assert not Path("/tmp/kubedrift-was-here").exists()


def test_python_values_in_an_object_lead_nowhere(script_checks: Callable[..., LuaHealthChecks]) -> None:
    # Live objects are plain JSON; anything else that slipped in gives Lua no attribute to follow.
    checks = script_checks("return {status = 'Healthy', message = tostring(obj.status.when.__class__)}")
    health = judge(checks, widget(when=datetime.datetime(2025, 1, 2, tzinfo=datetime.UTC)))
    assert health.status is Health.UNKNOWN
    assert "datetime" not in health.message


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "local x = = 1",
            "The health check checks/acme.io/Widget/health.lua does not compile "
            "(line 1: unexpected symbol near '=')",
        ),
        (
            "local hs = {}\nreturn {status = obj.status.missing.field}",
            "The health check checks/acme.io/Widget/health.lua failed "
            "(line 2: attempt to index field 'missing' (a nil value))",
        ),
        (
            "error({code = 1})",
            "The health check checks/acme.io/Widget/health.lua failed (it raised an error that is not text)",
        ),
        (
            'return {status = "Fine"}',
            "The health check checks/acme.io/Widget/health.lua returned the status 'Fine'; "
            "expected one of Healthy, Suspended, Progressing, Missing, Degraded, Unknown",
        ),
        (
            'return {message = "no verdict"}',
            "The health check checks/acme.io/Widget/health.lua returned no status; "
            "expected one of Healthy, Suspended, Progressing, Missing, Degraded, Unknown",
        ),
        (
            # The verdict is read without metamethods, so a looping one never runs.
            "return setmetatable({}, {__index = function() while true do end end})",
            "The health check checks/acme.io/Widget/health.lua returned no status; "
            "expected one of Healthy, Suspended, Progressing, Missing, Degraded, Unknown",
        ),
        (
            "local hs = {}",
            "The health check checks/acme.io/Widget/health.lua returned nothing; "
            'it must return a table such as {status = "Healthy", message = "..."}',
        ),
        (
            'return "Healthy"',
            "The health check checks/acme.io/Widget/health.lua returned a string; "
            'it must return a table such as {status = "Healthy", message = "..."}',
        ),
        (
            'return {status = "Healthy", message = {"a"}}',
            "The health check checks/acme.io/Widget/health.lua returned a message that is not text",
        ),
    ],
    ids=[
        "syntax",
        "runtime",
        "error-table",
        "bad-status",
        "no-status",
        "verdict-metatable",
        "nothing",
        "string",
        "message-table",
    ],
)
def test_broken_script_is_unknown_naming_the_file(
    script_checks: Callable[..., LuaHealthChecks], source: str, message: str
) -> None:
    assert judge(script_checks(source), widget()) == HealthStatus(Health.UNKNOWN, message)


LOOPS = [
    "while true do end",
    # A script must not catch the time-out and carry on.
    "while true do pcall(function() while true do end end) end",
    "while true do xpcall(function() while true do end end, function(e) return e end) end",
    "local function f() return f() end return f()",
]


@pytest.mark.parametrize("source", LOOPS, ids=["loop", "pcall", "xpcall", "tail-call"])
def test_script_that_never_ends_is_stopped(
    script_checks: Callable[..., LuaHealthChecks], source: str
) -> None:
    checks = script_checks(source, time_limit=0.05)
    health = judge(checks, widget())
    assert health.status is Health.UNKNOWN
    assert "checks/acme.io/Widget/health.lua ran longer than 50 ms and was stopped" in health.message


def test_script_that_eats_memory_is_stopped(script_checks: Callable[..., LuaHealthChecks]) -> None:
    checks = script_checks("local t = {} for i = 1, 1e9 do t[i] = i end", memory_limit=16 * 1024 * 1024)
    health = judge(checks, widget())
    assert health == HealthStatus(
        Health.UNKNOWN,
        "The health check checks/acme.io/Widget/health.lua used more than its 16 MiB of memory "
        "and was stopped",
    )


def test_state_is_usable_after_a_failure(tmp_path: Path) -> None:
    for kind, source in (
        ("Bad", "local t = {} for i = 1, 1e9 do t[i] = i end"),
        ("Good", 'return {status = "Healthy"}'),
    ):
        (tmp_path / "acme.io" / kind).mkdir(parents=True)
        (tmp_path / "acme.io" / kind / "health.lua").write_text(source)
    checks = LuaHealthChecks(read_health_scripts(tmp_path, "checks"), memory_limit=16 * 1024 * 1024)
    bad, good = checks.check_for("acme.io", "Bad"), checks.check_for("acme.io", "Good")
    assert bad is not None and good is not None
    for _ in range(3):
        assert bad({}).status is Health.UNKNOWN
        assert good({}) == HealthStatus(Health.HEALTHY)


def test_check_is_compiled_once_and_kept_per_kind(fixture_checks: LuaHealthChecks) -> None:
    assert fixture_checks.check_for("", "ConfigMap") is fixture_checks.check_for("", "ConfigMap")
    assert fixture_checks.check_for("", "Secret") is None


# --- Reaching the reconciler and the engine ----------------------------------------------------------


def test_reconciler_judges_with_the_users_checks(fixture_checks: LuaHealthChecks) -> None:
    app = App("shop", Source(".", "", "."))
    key = ResourceKey("", "ConfigMap", "shop", "settings")
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"}}
    live = obj | {"data": {"maintenance": "on"}}
    reconciler = AppReconciler(app, health_overrides=fixture_checks)
    reconciler.set_desired({key: obj}, render_ok=True)
    reconciler.live_changed(key, live)
    assert reconciler.results[key].health == HealthStatus(Health.SUSPENDED, "maintenance mode")
    assert reconciler.health is Health.SUSPENDED


# --- kubedrift.yaml `healthChecks:` ------------------------------------------------------------------

APP = """\
apps:
  - name: shop
    source: {repoURL: ./gitops, targetRevision: main, path: apps/shop}
"""


def test_config_reads_the_folder_relative_to_the_config_file(tmp_path: Path) -> None:
    shutil.copytree(LUA_FIXTURES, tmp_path / "settings" / "health")
    config_path = tmp_path / "settings" / "kubedrift.yaml"
    config_path.write_text(APP + "healthChecks: health\n")
    config = load_config(config_path)
    assert {(script.group, script.kind) for script in config.health_checks} == {
        ("", "ConfigMap"),
        ("*.example.io", "*"),
        ("apps", "Deployment"),
        ("cert-manager.io", "Certificate"),
        ("flagger.app", "Canary"),
        ("policy", "PodDisruptionBudget"),
    }
    engine = Engine(config, None, base_dir=tmp_path)
    overrides = engine.apps["shop"].reconciler.health_overrides
    assert isinstance(overrides, LuaHealthChecks)
    assert overrides.scripts == config.health_checks


def test_without_the_key_there_are_no_user_checks(tmp_path: Path) -> None:
    (tmp_path / "kubedrift.yaml").write_text(APP)
    config = load_config(tmp_path / "kubedrift.yaml")
    assert config.health_checks == ()
    assert Engine(config, None, base_dir=tmp_path).apps["shop"].reconciler.health_overrides is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (
            "nowhere",
            "healthChecks: 'nowhere' does not exist; give a folder of <group>/<Kind>/health.lua files",
        ),
        ("kubedrift.yaml", "healthChecks: 'kubedrift.yaml' is not a folder"),
        ("[a, b]", "healthChecks: expected a non-empty string, got a list"),
    ],
)
def test_config_errors_name_file_line_and_field(tmp_path: Path, value: str, says: str) -> None:
    (tmp_path / "kubedrift.yaml").write_text(APP + f"healthChecks: {value}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "kubedrift.yaml")
    assert raised.value.line == 4
    assert says in str(raised.value)
    assert str(raised.value).startswith(str(raised.value.file) + ":4: ")


def test_script_that_is_not_text_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "health" / "acme.io" / "Widget").mkdir(parents=True)
    (tmp_path / "health" / "acme.io" / "Widget" / "health.lua").write_bytes(b"return \xff\xfe")
    with pytest.raises(ConfigError) as raised:
        read_health_scripts(tmp_path / "health", "health")
    assert (
        str(raised.value)
        == "health/acme.io/Widget/health.lua: this health check is not UTF-8 text; save it as UTF-8"
    )


def test_script_value_type() -> None:
    script = LuaHealthScript("*.example.io", "*", "x/health.lua", "return {}")
    assert script.is_wildcard
    assert script.judges("a.example.io", "Queue")
    assert not script.judges("example.io", "Queue")
