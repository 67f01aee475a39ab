"""Health checks users bring in Argo CD's Lua format, run in-process with lupa.

A folder laid out as Argo CD's `resource_customizations` holds one `health.lua` per kind:
`<group>/<Kind>/health.lua`, or `<Kind>/health.lua` for the core group (Argo CD's key for a core
kind is the bare kind). As in Argo CD, `_` in a folder name is a wildcard
(`_.crossplane.io/_/health.lua` judges every kind of every `*.crossplane.io` group); an exact
folder wins over wildcards, and wildcards are tried in the order of their paths. A user's script
wins over kubedrift's own rule for that kind.

Each script runs as Argo CD runs it: the live object is the global `obj`, converted to Lua tables
(JSON null becomes nil), and the script returns `{status = ..., message = ...}`. Argo CD embeds
gopher-lua, which speaks Lua 5.1 plus `goto`. Scripts run here on Lua 5.2, the nearest real Lua
(numbers are all floats, `goto continue` works), with the 5.1 functions Argo CD's scripts still
call put back: `unpack`, `table.getn`, `table.maxn`, `math.mod`, `math.log10`.

A script sees what Argo CD gives it: the base functions, `string`, `table`, `math`, and `os` cut
down to `os.time` and `os.date` (also as `require("os")`). Nothing else: no `io`, no other `os`
function, no `load`, `loadstring`, `dofile`, `loadfile`, `debug`, `collectgarbage` or
`coroutine`, and no precompiled chunks. A script can read the object and nothing more.

Each run has `TIME_LIMIT_SECONDS` of wall time, checked every `_HOOK_INSTRUCTIONS` Lua instructions;
`pcall` cannot catch the time-out. All the checks share `MEMORY_LIMIT_BYTES`. Argo CD allows one
second; a tenth is plenty for a health check, and it bounds what a looping script costs on each
watch event. A script that does not compile, fails, runs out of time or memory, or returns no valid
status makes the resource Unknown, with one sentence naming the file. The time check cannot stop a
single long C call, such as a pathological `string.find` pattern; the memory limit still holds.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.health import HealthCheck
from core.health.live_fields import lua_number_text
from core.model import Health, HealthStatus

HEALTH_SCRIPT = "health.lua"
TIME_LIMIT_SECONDS = 0.1
MEMORY_LIMIT_BYTES = 64 * 1024 * 1024
MAX_SCRIPT_BYTES = 1024 * 1024
_HOOK_INSTRUCTIONS = 1000
_TIMED_OUT = "kubedrift: health check time limit"
_HEALTH_VALUES = frozenset(health.value for health in Health)
_STATUSES = ", ".join(health.value for health in Health)


@dataclass(frozen=True, slots=True)
class LuaHealthScript:
    """One user health check: the (group, kind) its folder names, with `*` wildcards, and its source."""

    group: str
    kind: str
    path: str
    """The file, as the user would name it in a shell (for messages)."""
    source: str

    @property
    def is_wildcard(self) -> bool:
        return "*" in self.group or "*" in self.kind

    def judges(self, group: str, kind: str) -> bool:
        return fnmatch.fnmatchcase(group, self.group) and fnmatch.fnmatchcase(kind, self.kind)


def read_health_scripts(folder: Path, shown_as: str) -> tuple[LuaHealthScript, ...]:
    """Every `health.lua` of a resource_customizations-style folder; `shown_as` is how to name it.

    Other files and deeper folders (Argo CD's `testdata/`, `actions/`) are left alone, so a copy of
    Argo CD's own folder can be used as it is.
    """
    scripts: list[LuaHealthScript] = []
    try:
        for top in _folders_in(folder):
            core_script = top / HEALTH_SCRIPT
            if core_script.is_file():
                scripts.append(_read_script(core_script, "", top.name, f"{shown_as}/{top.name}"))
            for kind in _folders_in(top):
                script = kind / HEALTH_SCRIPT
                if script.is_file():
                    shown = f"{shown_as}/{top.name}/{kind.name}"
                    scripts.append(_read_script(script, top.name, kind.name, shown))
    except OSError as error:
        where = error.filename or folder
        raise ConfigError(
            f"cannot read the health checks folder {where}: {error.strerror}", file=shown_as
        ) from None
    return tuple(scripts)


def _folders_in(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if entry.is_dir())


def _read_script(path: Path, group_folder: str, kind_folder: str, shown_folder: str) -> LuaHealthScript:
    shown = f"{shown_folder}/{HEALTH_SCRIPT}"
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read this health check: {error.strerror}", file=shown) from None
    if len(data) > MAX_SCRIPT_BYTES:
        raise ConfigError(
            f"this health check is larger than {MAX_SCRIPT_BYTES // 1024} KiB; keep health checks short",
            file=shown,
        )
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("this health check is not UTF-8 text; save it as UTF-8", file=shown) from None
    # Argo CD's folders spell the wildcard `_`, since `*` is awkward in a file name.
    return LuaHealthScript(group_folder.replace("_", "*"), kind_folder.replace("_", "*"), shown, source)


# The trusted side, run once per Lua state. `run` gives each call a fresh environment, so one call
# (or one script) never sees globals another one left, as each call has its own state in Argo CD.
_SANDBOX = r"""
local now, hook_every, timed_out_marker = ...
local real_pcall, real_xpcall, real_error = pcall, xpcall, error
local sethook, setupvalue, load, collect = debug.sethook, debug.setupvalue, load, collectgarbage
local deadline, timed_out = 0, false

-- String methods (`s:find(...)`) use this metatable; hiding it keeps scripts off the shared library.
getmetatable("").__metatable = false

local function copy(library)
  local copied = {}
  for name, value in pairs(library) do copied[name] = value end
  return copied
end

local function hook()
  if timed_out or now() > deadline then
    timed_out = true
    real_error(timed_out_marker, 0)
  end
end

-- After a time-out every protected call fails again, so a script cannot catch it and go on.
local function rethrow_time_out(...)
  if timed_out then real_error(timed_out_marker, 0) end
  return ...
end

local unavailable = {io = true, debug = true, load = true, loadstring = true, dofile = true,
  loadfile = true, getfenv = true, setfenv = true, collectgarbage = true, coroutine = true,
  module = true, package = true}

local function new_environment(obj)
  local safe_os = setmetatable({time = os.time, date = os.date}, {__index = function(_, name)
    real_error("os." .. tostring(name) .. " is not available to health checks (only os.time and os.date)", 2)
  end})
  local strings = copy(string)
  strings.dump = nil
  -- gopher-lua (Lua 5.1) functions that Lua 5.2 dropped, which Argo CD's scripts still call.
  local tables = copy(table)
  tables.getn = function(list) return #list end
  tables.maxn = function(list)
    local largest = 0
    for key in pairs(list) do
      if type(key) == "number" and key > largest then largest = key end
    end
    return largest
  end
  local maths = copy(math)
  maths.mod = math.fmod
  maths.log10 = function(x) return math.log(x, 10) end
  local environment = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, print = function() end,
    rawequal = rawequal, rawget = rawget, rawset = rawset, select = select, tonumber = tonumber,
    tostring = tostring, type = type, unpack = table.unpack, getmetatable = getmetatable,
    setmetatable = setmetatable, _VERSION = _VERSION,
    pcall = function(...) return rethrow_time_out(real_pcall(...)) end,
    xpcall = function(...) return rethrow_time_out(real_xpcall(...)) end,
    string = strings, table = tables, math = maths, os = safe_os,
    require = function(name)
      if name == "os" then return safe_os end
      real_error("module '" .. tostring(name) .. "' is not available to health checks (only os)", 2)
    end,
    obj = obj,
  }
  environment._G = environment
  return setmetatable(environment, {__index = function(_, name)
    if unavailable[name] then
      real_error(tostring(name) .. " is not available to health checks", 2)
    end
  end})
end

-- Text only ("t"): a precompiled chunk could break out of any sandbox.
local function compile(source)
  local chunk, problem = load(source, "=health.lua", "t", {})
  return chunk, problem
end

-- The verdict is read here, under the time limit and with rawget: a returned table whose
-- metatable loops would otherwise run unbounded when Python reads it.
local function run(chunk, obj, time_limit)
  setupvalue(chunk, 1, new_environment(obj))  -- a main chunk's one upvalue is _ENV
  deadline, timed_out = now() + time_limit, false
  sethook(hook, "", hook_every)
  local ok, result = real_pcall(chunk)
  local returned, status, message = type(result), nil, nil
  if ok and returned == "table" then
    ok, status, message = real_pcall(function()
      return rawget(result, "status"), rawget(result, "message")
    end)
  end
  sethook()
  local was_timed_out = timed_out
  timed_out = false
  if not ok then
    collect("collect")  -- free at once what a failed, perhaps memory-hungry, run held
    return false, was_timed_out, result
  end
  return true, was_timed_out, returned, status, message
end

return compile, run
"""


class LuaHealthChecks:
    """The user's health checks, as `core.health.HealthOverrides`: compiled on first use, each run
    sandboxed. Safe to share between threads: runs take turns, as one Lua state runs one at a time."""

    def __init__(
        self,
        scripts: Sequence[LuaHealthScript],
        *,
        time_limit: float = TIME_LIMIT_SECONDS,
        memory_limit: int = MEMORY_LIMIT_BYTES,
    ) -> None:
        self.scripts = tuple(scripts)
        self._time_limit = time_limit
        self._memory_limit = memory_limit
        self._exact = {(script.group, script.kind): script for script in scripts if not script.is_wildcard}
        self._wildcards = sorted((script for script in scripts if script.is_wildcard), key=lambda s: s.path)
        self._checks: dict[tuple[str, str], HealthCheck | None] = {}
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._lua: tuple[Callable[..., Any], Callable[..., Any]] | None = None
        self._runtime: Any = None

    def check_for(self, group: str, kind: str) -> HealthCheck | None:
        """The check of the script that judges (group, kind), or None when no script does."""
        key = (group, kind)
        if key not in self._checks:
            script = self._exact.get(key) or next((s for s in self._wildcards if s.judges(group, kind)), None)
            self._checks[key] = None if script is None else _ScriptCheck(self, script)
        return self._checks[key]

    def run(self, script: LuaHealthScript, obj: Mapping[str, Any]) -> HealthStatus:
        """What `script` says of `obj`; Unknown, naming the file, when it cannot say."""
        from lupa import LuaError, LuaMemoryError

        with self._lock:
            try:
                compile_chunk, run_chunk = self._state()
                chunk = self._compiled.get(script.path)
                if chunk is None:
                    chunk, problem = compile_chunk(script.source)
                    if chunk is None:
                        return _unknown(
                            f"the health check {script.path} does not compile ({_detail(problem)})"
                        )
                    self._compiled[script.path] = chunk
                ok, timed_out, *outcome = run_chunk(
                    chunk, self._runtime.table_from(obj, recursive=True), self._time_limit
                )
            except LuaMemoryError:
                return _memory_exceeded(script, self._memory_limit)
            except LuaError as error:
                return _failed(script, str(error), self._memory_limit)
            except UnicodeDecodeError:
                return _unknown(f"the health check {script.path} returned text that is not UTF-8")
        if timed_out:
            return _unknown(
                f"the health check {script.path} ran longer than {self._time_limit * 1000:g} ms "
                "and was stopped; look for a loop that never ends"
            )
        if not ok:
            return _failed(script, outcome[0], self._memory_limit)
        return _verdict(script, *outcome)

    def _state(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        if self._lua is None:
            from lupa import lua52

            runtime = lua52.LuaRuntime(
                register_eval=False,
                register_builtins=False,
                unpack_returned_tuples=True,
                max_memory=self._memory_limit,
                # A live object is plain JSON, but should anything else slip into one (a datetime
                # from a YAML fixture, say), Lua gets no attribute of it, so no path into Python.
                attribute_filter=_no_python_attributes,
            )
            self._runtime = runtime
            sandbox = runtime.execute(_SANDBOX, time.monotonic, _HOOK_INSTRUCTIONS, _TIMED_OUT)
            self._lua = (sandbox[0], sandbox[1])
        return self._lua


def _no_python_attributes(obj: object, name: object, is_setting: bool) -> str:
    raise AttributeError(f"health checks cannot reach Python attributes ({name!r})")


@dataclass(frozen=True, slots=True)
class _ScriptCheck:
    """A HealthCheck bound to one script."""

    checks: LuaHealthChecks
    script: LuaHealthScript

    def __call__(self, obj: Mapping[str, Any]) -> HealthStatus:
        return self.checks.run(self.script, obj)


def _verdict(script: LuaHealthScript, returned: str, status: Any, message: Any) -> HealthStatus:
    if returned != "table":
        what = "nothing" if returned == "nil" else f"a {returned}"
        return _unknown(
            f"the health check {script.path} returned {what}; "
            'it must return a table such as {status = "Healthy", message = "..."}'
        )
    if status not in _HEALTH_VALUES:
        shown = "no status" if status is None else f"the status {status!r}"
        return _unknown(f"the health check {script.path} returned {shown}; expected one of {_STATUSES}")
    if isinstance(message, (int, float)) and not isinstance(message, bool):
        message = lua_number_text(float(message))  # Argo CD's JSON round trip would refuse it; be kind
    elif message is not None and not isinstance(message, str):
        return _unknown(f"the health check {script.path} returned a message that is not text")
    return HealthStatus(Health(status), message or "")


def _failed(script: LuaHealthScript, problem: Any, memory_limit: int) -> HealthStatus:
    if isinstance(problem, str) and problem.startswith("not enough memory"):
        return _memory_exceeded(script, memory_limit)
    detail = _detail(problem) if isinstance(problem, str) else "it raised an error that is not text"
    return _unknown(f"the health check {script.path} failed ({detail})")


def _memory_exceeded(script: LuaHealthScript, limit: int) -> HealthStatus:
    return _unknown(
        f"the health check {script.path} used more than its {limit // (1024 * 1024)} MiB of memory "
        "and was stopped"
    )


def _detail(problem: str) -> str:
    """Lua's `health.lua:12: attempt to ...` as `line 12: attempt to ...`."""
    match = re.match(r"health\.lua:(\d+): (.*)", problem, re.DOTALL)
    return f"line {match[1]}: {match[2].strip()}" if match else problem.strip()


def _unknown(sentence: str) -> HealthStatus:
    return HealthStatus(Health.UNKNOWN, sentence[:1].upper() + sentence[1:])


__all__ = ["HEALTH_SCRIPT", "LuaHealthChecks", "LuaHealthScript", "read_health_scripts"]
