"""One `.jsonnet` file of a directory app evaluated as Argo CD evaluates it, into a stream of its objects.

The engine is the official C++ Jsonnet through PyPI's `jsonnet` (module `_jsonnet`, 0.22). Argo CD runs
go-jsonnet 0.22 (its go.mod); both implement the same language and standard library. What Argo CD does
comes from its repo-server (`reposerver/repository/repository.go`: `findManifests`, `makeJsonnetVM`,
`GenerateManifests`) and docs (`docs/user-guide/jsonnet.md`), and from go-jsonnet's `FileImporter`:

- Files: every `*.jsonnet` the directory options select is evaluated, each on its own (`manifestFile`
  is `^.*\\.(yaml|yml|json|jsonnet)$`); `.libsonnet` files are never evaluated, only imported. A file
  holding `+argocd:skip-file-rendering` is skipped, as Argo CD skips any manifest file holding it.
- extVars and tlas: `code: true` passes the value as Jsonnet code, else as a string; where a name is
  given twice the later entry wins. Each value first goes through Argo CD's `Env.Envsubst` (Go's
  `os.Expand`): `$NAME` and `${NAME}` become the build environment's value, or nothing when it has
  none, and `$$` a `$`. The caller passes that environment (`ARGOCD_APP_NAME`, ...) as `build_env`.
- Imports: a path is tried beside the importing file first, then in the `libs` folders, the last
  listed first, then in the app folder (`JPaths = [appPath, libs...]`, searched from the end). A
  `libs` entry is relative to the repository root, a leading `/` included, and must resolve inside it.
- Output: an object, or an array whose items are objects (a `null` item is skipped); `null` is no
  object at all. A string, number or boolean as the output or as an item, or an array as an item,
  fails the file. A `List` is expanded into its items afterwards (`GenerateManifests`; here the
  manifest parser does it), which also checks apiVersion, kind and metadata document by document.

Where kubedrift is stricter: Argo CD lets an import read any file the repo-server can; here `import`,
`importstr` and `importbin` read regular files inside the repository only, symlinks followed to
their target, so no file outside the checkout can leak into a manifest. The file itself and each
`libs` folder are bounded the same way. Known differences from go-jsonnet: the C++ parser refuses a
`\\uD83D\\uDE00` surrogate-pair escape (write the character itself), and error texts differ.

The stream has one document per item of the output, in order, `---` then the item as one line of JSON
(`null` for a skipped item), so "document N" in a later message is item N of the output. Each line
reads the same as YAML (characters YAML folds or refuses are `\\u` escapes; a key longer than YAML's
1024-character limit is written as an explicit `? ` key), so `parse_manifest_file(file, stream,
lines_known=False)` reads exactly what Argo CD's `json.Unmarshal` reads, Lists included.

Evaluation runs in a child interpreter, because measured in-process it cannot be bounded: the engine
holds no lock for Python and cannot be interrupted, so `local f(x) = f(x) tailstrict; f(0)` never
returns; and when memory runs out libjsonnet prints "FATAL ERROR" and aborts the whole process.
The child starts in ~60 ms, has `MAX_MEMORY_BYTES` of address space, and is killed after
`timeout_seconds`; calls are `MAX_STACK` deep at most (Argo CD's default too), so runaway recursion
is a "max stack frames exceeded" error; an output over `MAX_OUTPUT_CHARACTERS` is refused. Each call is
its own process, so any thread may call `render_jsonnet`, and the caller never imports `_jsonnet`.
Same files and options, same bytes: Jsonnet has no clock or randomness and sorts object fields.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.build_env import expand
from core.errors import RenderError
from core.source_options import JsonnetOptions, JsonnetVariable

__all__ = [
    "JSONNET_SUFFIXES",
    "LIBRARY_SUFFIXES",
    "MAX_MEMORY_BYTES",
    "MAX_OUTPUT_CHARACTERS",
    "MAX_STACK",
    "TIMEOUT_SECONDS",
    "is_jsonnet_path",
    "render_jsonnet",
]

JSONNET_SUFFIXES = (".jsonnet",)
LIBRARY_SUFFIXES = (".libsonnet",)
"""Imported by Jsonnet files, never evaluated on their own (and not manifests either)."""
MAX_STACK = 500
"""Nested calls before "max stack frames exceeded": go-jsonnet's and libjsonnet's default."""
TIMEOUT_SECONDS = 60.0
MAX_MEMORY_BYTES = 2 * 1024**3
"""Address space of the evaluating process; a real app's evaluation needs far less."""
MAX_OUTPUT_CHARACTERS = 64 * 1024**2
"""Of Jsonnet's JSON output. The API server stores objects of at most 1.5 MiB: room for thousands."""

SKIP_MARKER = b"+argocd:skip-file-rendering"
_OPTIONS = "source.directory.jsonnet"
_FAILED = 3
_CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from core.jsonnet_render import _serve; _serve()"
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
_LOCATION = r"(?P<path>.+?):(?:\((?P<line>\d+):\d+\)-\(\d+:\d+\)|(?P<at>\d+):\d+(?:-\d+)?)"
_STATIC = re.compile(rf"STATIC ERROR: {_LOCATION}: (?P<detail>.*)", re.DOTALL)
_FRAME = re.compile(rf"{_LOCATION}\t.*", re.DOTALL)
_CODE_VALUE = re.compile(r"<extvar:(?P<ext>.*)>|tla:(?P<tla>.*)")
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
"""Characters JSON may carry raw but YAML refuses (C1 controls, non-characters) or reads as line breaks."""
_LONG_KEY = re.compile(r'"(?:[^"\\]|\\.){1000,}": ')
_SIMPLE_KEY_LIMIT = 1000


def is_jsonnet_path(path: str) -> bool:
    """Whether `path` (relative, "/"-separated) is evaluated: a `.jsonnet` file with no hidden segment."""
    return path.endswith(JSONNET_SUFFIXES) and not path.startswith(".") and "/." not in path


def render_jsonnet(
    folder: Path,
    relative_path: str,
    options: JsonnetOptions,
    *,
    repo_root: Path,
    build_env: Mapping[str, str] | None = None,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> bytes:
    """Evaluates one `.jsonnet` file of the app folder into a YAML stream of its objects, one each.

    `folder` is the app folder inside the checkout `repo_root`; `relative_path` is the file's path in
    it. `build_env` is Argo CD's build environment, substituted into extVars and tlas (none: every
    `$NAME` becomes empty, as in Argo CD for a name it does not set). Every failure is one
    RenderError naming `relative_path` and, when Jsonnet tells, the line in it.
    """
    bounds = Path(os.path.realpath(repo_root))
    app_folder = os.path.realpath(folder)
    if not _inside(app_folder, bounds):
        raise ValueError(f"{folder} is not inside the repository {repo_root}")
    main = os.path.normpath(os.path.join(app_folder, relative_path))
    source = _main_source(main, bounds, relative_path)
    if SKIP_MARKER in source:
        return b""
    try:
        text = source.decode()
    except UnicodeDecodeError:
        raise RenderError("the file is not UTF-8 text; save it as UTF-8", file=relative_path) from None
    request = {
        "main": main,
        "source": text,
        "folder": app_folder,
        "bounds": str(bounds),
        "jpaths": [app_folder, *(_library_folder(bounds, lib, relative_path) for lib in options.libs)],
        **_variables(options, build_env or {}, relative_path),
        "max_output": MAX_OUTPUT_CHARACTERS,
        "memory": MAX_MEMORY_BYTES,
    }
    try:
        done = subprocess.run(
            # -P: the current folder (often the user's repository) must not shadow a module.
            [sys.executable, "-P", "-c", _CHILD, _PACKAGE_ROOT],
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=timeout_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        message = (
            f"Jsonnet took longer than {timeout_seconds:g} s; look for a loop without end "
            "or an output far larger than any app needs"
        )
        raise RenderError(message, file=relative_path) from None
    except OSError as exc:
        message = f"Jsonnet cannot be started ({exc.strerror}); check that kubedrift's Python still runs"
        raise RenderError(message, file=relative_path) from None
    if done.returncode == 0:
        return done.stdout
    if done.returncode == _FAILED:
        failure = json.loads(done.stdout)
        raise RenderError(failure["message"], file=relative_path, line=failure["line"])
    if b"memory allocation" in done.stderr or b"MemoryError" in done.stderr:
        message = (
            f"Jsonnet ran out of memory (it may use {MAX_MEMORY_BYTES // 1024**2} MiB); look for a "
            "runaway loop or an output far larger than any app needs"
        )
        raise RenderError(message, file=relative_path)
    detail = _last_line(done.stderr) or f"exit status {done.returncode}"
    raise RenderError(f"Jsonnet stopped abnormally ({detail}); report it with this file", file=relative_path)


def _inside(path: str | Path, bounds: Path) -> bool:
    return Path(path).is_relative_to(bounds)


def _main_source(main: str, bounds: Path, relative_path: str) -> bytes:
    if not _inside(os.path.realpath(main), bounds):
        message = (
            "this file leads outside the repository, which kubedrift refuses to read; use a file inside it"
        )
        raise RenderError(message, file=relative_path)
    try:
        if not stat.S_ISREG(os.stat(main).st_mode):  # before opening: opening a FIFO waits for a writer
            raise RenderError("this is not a regular file; make it one", file=relative_path)
        with open(main, "rb") as file:
            return file.read()
    except OSError as exc:
        raise RenderError(f"cannot read the file ({exc.strerror}); check it", file=relative_path) from None


def _library_folder(bounds: Path, lib: str, relative_path: str) -> str:
    """A `libs` entry as Argo CD's ResolveFileOrDirectoryPath resolves it: from the repository root."""
    folder = os.path.realpath(os.path.join(bounds, lib.lstrip("/")))
    if not _inside(folder, bounds):
        message = (
            f"{_OPTIONS}.libs entry {lib!r} leads outside the repository, which kubedrift refuses to "
            "read; use a folder inside it"
        )
        raise RenderError(message, file=relative_path)
    return folder


def _variables(options: JsonnetOptions, env: Mapping[str, str], relative_path: str) -> dict[str, Any]:
    """The binding's ext_vars/ext_codes/tla_vars/tla_codes; a name given twice keeps its last entry."""
    split: dict[str, Any] = {}
    for field, entries in (("extVars", options.ext_vars), ("tlas", options.tlas)):
        last: dict[str, JsonnetVariable] = {entry.name: entry for entry in entries}
        values = {name: expand(entry.value, env) for name, entry in last.items()}
        for name, value in values.items():
            if "\0" in name or "\0" in value:
                message = (
                    f"{_OPTIONS}.{field} {name!r} holds a NUL byte, which Jsonnet cannot take; remove it"
                )
                raise RenderError(message, file=relative_path)
        prefix = "ext" if field == "extVars" else "tla"
        split[f"{prefix}_vars"] = {name: values[name] for name, entry in last.items() if not entry.code}
        split[f"{prefix}_codes"] = {name: values[name] for name, entry in last.items() if entry.code}
    return split


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return " ".join(lines[-1].split())[:300] if lines else ""


# In the child interpreter --------------------------------------------------------------------------


def _serve() -> None:
    """The child's main: a request on stdin; the stream on stdout, or a failure and exit status 3."""
    request = json.loads(sys.stdin.buffer.read())
    _limit_memory(int(request["memory"]))
    try:
        stream = _evaluate(request)
    except RenderError as exc:
        sys.stdout.write(json.dumps({"message": exc.message, "line": exc.line}))
        sys.exit(_FAILED)
    sys.stdout.buffer.write(stream)


def _limit_memory(limit: int) -> None:
    import resource

    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):  # a platform without address-space limits: the timeout still holds
        pass


def _evaluate(request: dict[str, Any]) -> bytes:
    try:
        import _jsonnet
    except ImportError as exc:
        raise RenderError(f"Jsonnet's engine cannot be loaded ({exc}); reinstall kubedrift") from None
    importer = _Importer(Path(request["bounds"]), request["jpaths"], request["folder"])
    try:
        text: str = _jsonnet.evaluate_snippet(
            request["main"],
            request["source"],
            max_stack=MAX_STACK,
            max_trace=0,  # every frame, to find the line in the evaluated file however deep the error
            ext_vars=request["ext_vars"],
            ext_codes=request["ext_codes"],
            tla_vars=request["tla_vars"],
            tla_codes=request["tla_codes"],
            import_callback=importer,
        )
    except RuntimeError as exc:
        raise _failure(str(exc), request["main"], request["folder"]) from None
    except UnicodeDecodeError:
        message = "the output holds a lone UTF-16 surrogate (such as std.char(55296)); fix the string"
        raise RenderError(message) from None
    if len(text) > int(request["max_output"]):
        message = (
            f"the output is longer than {int(request['max_output']):,} characters, far more than any "
            "app needs; look for a runaway loop"
        )
        raise RenderError(message)
    return _stream(text)


class _Importer:
    """The import callback: go-jsonnet's FileImporter search, bounded to regular files in the repository."""

    def __init__(self, bounds: Path, jpaths: list[str], folder: str) -> None:
        self.bounds = bounds
        self.search = jpaths[::-1]
        self.folder = folder

    def __call__(self, base: str, rel: str) -> tuple[str, bytes]:
        outside = False
        for directory in (base, *self.search):
            found = os.path.normpath(os.path.join(directory, rel))
            real = os.path.realpath(found)
            if not _inside(real, self.bounds):
                outside = True  # never looked at, so nothing outside the checkout decides the result
                continue
            try:
                if stat.S_ISREG(os.stat(real).st_mode):
                    with open(real, "rb") as file:
                        return found, file.read()
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise RuntimeError(f"{_shown(found, self.folder)} cannot be read ({exc.strerror})") from None
            raise RuntimeError(f"{_shown(found, self.folder)} is not a regular file")
        if outside:
            raise RuntimeError("it leads outside the repository, which kubedrift refuses to read")
        raise RuntimeError(f"no such file beside the importing file, in {_OPTIONS}.libs or in the app folder")


def _shown(path: str, folder: str) -> str:
    """A location as a person finds it: a path from the app folder, or the option whose code it is."""
    code = _CODE_VALUE.fullmatch(path)
    if code is not None:
        return (
            f"{_OPTIONS}.extVars {code['ext']}"
            if code["ext"] is not None
            else f"{_OPTIONS}.tlas {code['tla']}"
        )
    return Path(os.path.relpath(path, folder)).as_posix()


def _failure(text: str, main: str, folder: str) -> RenderError:
    """Jsonnet's error text (a first line, then a tab-indented frame per call) as one sentence."""
    head, *frames = text.strip("\n").split("\n\t")
    static = _STATIC.fullmatch(head)
    if static is not None:
        line, detail = int(static["line"] or static["at"]), _one_line(static["detail"])
        if static["path"] == main:
            return RenderError(f"bad Jsonnet: {detail}; fix the syntax", line=line)
        where = _shown(static["path"], folder)
        if _CODE_VALUE.fullmatch(static["path"]):
            return RenderError(f"{where} is not valid Jsonnet code ({detail}); fix it or drop code: true")
        return RenderError(
            f"bad Jsonnet in {where}:{line}, which this file imports: {detail}; fix its syntax"
        )
    detail = _one_line(head.removeprefix("RUNTIME ERROR: "))
    located = [
        (match["path"], int(match["line"] or match["at"])) for f in frames if (match := _FRAME.fullmatch(f))
    ]
    main_line = next((at for path, at in located if path == main), None)
    place = ""
    if located and located[0][0] != main:
        origin = _shown(located[0][0], folder)
        place = f" in {origin}" if origin.startswith(_OPTIONS) else f" in {origin}:{located[0][1]}"
    top_level = any(frame.startswith("Top-level function") for frame in frames)
    if detail.startswith("max stack frames exceeded"):
        message = (
            f"Jsonnet calls nest more than {MAX_STACK} deep{place} (max stack frames exceeded); look for "
            "a function that calls itself without end"
        )
    elif top_level and (unbound := re.fullmatch(r"function parameter (\S+) not bound in call", detail)):
        message = (
            f"the file is a function whose parameter {unbound[1]} has no value; set it in {_OPTIONS}.tlas "
            "or give the parameter a default"
        )
    elif top_level and (unknown := re.fullmatch(r"function has no parameter (\S+)", detail)):
        message = f"{_OPTIONS}.tlas sets {unknown[1]}, which the file's function does not take; remove it"
    elif undefined := re.fullmatch(r"undefined external variable: (.*)", detail):
        message = (
            f"std.extVar('{undefined[1]}'){place} has no value; set {undefined[1]} in {_OPTIONS}.extVars"
        )
    elif missing := re.fullmatch(r"couldn't open import (\".*?\"): (.*)", detail):
        message = f"cannot import {missing[1]}{place}: {missing[2]}; fix the import or {_OPTIONS}.libs"
    else:
        message = f"Jsonnet stops with an error{place}: {detail}; fix the code or the values it is given"
    return RenderError(message, line=main_line)


def _one_line(text: str) -> str:
    text = " ".join(text.split()).removesuffix(".")
    return text if len(text) <= 300 else f"{text[:299]}…"


def _stream(text: str) -> bytes:
    """The output as one JSON line per item, as Argo CD takes it: an object or an array of objects."""
    try:
        output = json.loads(text)
        if output is None:
            return b""
        if not isinstance(output, dict | list):
            message = (
                f"the file evaluates to a {_json_kind(output)}, not an object or an array of objects; "
                "make it return the Kubernetes objects"
            )
            raise RenderError(message)
        items = output if isinstance(output, list) else [output]
        for position, item in enumerate(items, 1):
            if isinstance(item, list):
                message = (
                    f"item {position} of the output is an array, which Argo CD does not take; flatten "
                    "the output (std.flattenArrays) so that every item is an object"
                )
                raise RenderError(message)
            if item is not None and not isinstance(item, dict):
                message = f"item {position} of the output is a {_json_kind(item)}, not an object; remove it"
                raise RenderError(message)
        return "".join(f"---\n{_document(item)}\n" for item in items).encode()
    except RecursionError:
        message = "the output nests arrays and objects hundreds of levels deep; look for a runaway function"
        raise RenderError(message) from None


def _json_kind(value: Any) -> str:
    return "string" if isinstance(value, str) else "boolean" if isinstance(value, bool) else "number"


def _document(item: Any) -> str:
    text = json.dumps(item, ensure_ascii=False)
    if _LONG_KEY.search(text):
        text = _flow(item)
    return _YAML_UNSAFE.sub(lambda unsafe: f"\\u{ord(unsafe[0]):04x}", text)


def _flow(value: Any) -> str:
    """JSON, but with YAML's explicit `? ` before a key too long to be a YAML simple key."""
    if isinstance(value, dict):
        entries = []
        for key, item in value.items():
            written = json.dumps(key, ensure_ascii=False)
            explicit = "? " if len(written) > _SIMPLE_KEY_LIMIT else ""
            entries.append(f"{explicit}{written}: {_flow(item)}")
        return "{" + ", ".join(entries) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)
