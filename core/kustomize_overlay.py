"""Argo CD's `source.kustomize` options, applied to an app's kustomization as Argo CD applies them.

Argo CD's repo server edits the app folder's own kustomization in its checkout, in this order, and
then builds the folder (argo-cd `util/kustomize/kustomize.go`, `Build`): `kustomize edit set
nameprefix`, `set namesuffix`, `set image`, `set replicas`, `add label`, `add annotation`, `set
namespace`, then `patches` appended to the file's own, then `add component`. These are edits, not a
wrapping overlay, and the difference shows: a prefix replaces the app's `namePrefix` instead of
stacking on it, an image override replaces the app's entry for the same image, a label the app already
sets is refused (Argo CD passes `--force` only with `forceCommonLabels`), and patches and components
run inside the app's kustomization, before its own transformers. Without a kustomize binary there is
no `kustomize edit`, so the same edits (kustomize's `commands/edit`, v5.8.1, the version Argo CD
ships) are made here to a copy of the kustomization, written as JSON (which kustomize reads as the YAML
it is), and the copy is built by the same `KustomizeRunner` as any kustomization.

The user's folder is never written: the copy is made in a temporary folder and removed afterwards. The
app folder is copied whole, since kustomize refuses a file that resolves outside the kustomization's
folder, so a link to the original would not do; every other entry of the repository is a link, so
`../base` and components elsewhere in the repository resolve as they do in Argo CD's checkout.

Flux's Kustomizations set the same fields (kustomize-controller writes them into the folder's
kustomization before its build), and a folder without a kustomization gets the one Flux generates
(`core.flux_kustomization`), written into the copy as an edited one is.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from core.build_env import expand
from core.config_yaml import load_yaml_file
from core.errors import ConfigError, RenderError
from core.flux_kustomization import generated_kustomization, kustomization_names
from core.kube_yaml import KubeLoader
from core.kustomize import KUSTOMIZATION_FILES, KustomizeRunner
from core.source_options import KustomizeOptions

NO_BUILD_ENV: Mapping[str, str] = MappingProxyType({})
"""No Argo CD build environment (`ARGOCD_APP_NAME`…): `$VAR` in images and label values becomes empty."""
OPTION = "source.kustomize"
IMAGE_FORMS = "name=newName:tag, name:tag, name@digest or name=newName"
_IMAGE_FIELDS = ("newName", "newTag", "digest")
_PRESERVE = "*"
"""`kustomize edit set image nginx=*:1.2` keeps the kustomization's own newName for nginx."""
_PATCH_KEYS = ("path", "patch", "target", "options")
_TARGET_KEYS = ("group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector")
_JSON_PATCH_OPS = {
    "add": ("value",),
    "remove": (),
    "replace": ("value",),
    "move": ("from",),
    "copy": ("from",),
    "test": ("value",),
}
_REMOTE_PREFIXES = ("git@", "git::", "github.com/", "gitlab.com/", "bitbucket.org/")


def build_with_options(
    app_folder: Path,
    repo_root: Path,
    options: KustomizeOptions,
    runner: KustomizeRunner,
    *,
    env: Mapping[str, str] = NO_BUILD_ENV,
) -> bytes | None:
    """`runner.build` of the app's kustomization with Argo CD's options applied; None when no kustomize
    tool is installed.

    `app_folder` is inside `repo_root`; components must stay inside the repository. `env` is Argo CD's
    build environment, substituted into images and label values as Argo CD does. Every failure is one
    RenderError; options are checked before anything is copied or built.
    """
    generated = options.generate_kustomization and not kustomization_names(app_folder)
    if options.empty and not generated:
        return runner.build(app_folder)
    app_folder, repo_root = app_folder.resolve(), repo_root.resolve()
    if not app_folder.is_relative_to(repo_root):
        raise ValueError(f"the app folder {app_folder} is not inside the repository {repo_root}")
    if generated:
        name, document = KUSTOMIZATION_FILES[0], generated_kustomization(app_folder)
    else:
        name = _kustomization_name(app_folder)
        document = _read_kustomization(app_folder / name, name)
    edited = edited_kustomization(
        document, options, app_folder=app_folder, repo_root=repo_root, file=name, env=env
    )
    with tempfile.TemporaryDirectory(prefix="kubedrift-kustomize-") as scratch:
        shadow_root = Path(scratch).resolve() / "repository"
        try:
            shadow_app = _shadow_repository(app_folder, repo_root, shadow_root)
            target = shadow_app / name
            target.unlink(missing_ok=True)  # a copied link would write through to the user's own file
            with target.open("x", encoding="utf-8") as out:
                json.dump(edited, out, indent=2, ensure_ascii=False)
        except OSError as exc:
            message = (
                f"cannot copy the app folder to apply {OPTION} ({exc.strerror}); "
                "check the free space and permissions of the temporary folder"
            )
            raise RenderError(message, file=name) from None
        try:
            return runner.build(shadow_app)
        except RenderError as exc:
            message = exc.message.replace(f"{shadow_root}/", "")
            raise RenderError(message, file=exc.file, line=exc.line) from None


def edited_kustomization(
    document: Mapping[str, Any],
    options: KustomizeOptions,
    *,
    app_folder: Path,
    repo_root: Path,
    file: str = "kustomization.yaml",
    env: Mapping[str, str] = NO_BUILD_ENV,
) -> dict[str, Any]:
    """The kustomization `document` as Argo CD's `kustomize edit` commands leave it, in their order.

    Reads only: component and patch paths are checked against `app_folder`, resolved. Raises
    RenderError for a bad option or a kustomization field an edit cannot extend; `file` names it.
    """
    edited = dict(document)
    if options.name_prefix:
        _take(edited, "namePrefix")
        edited["namePrefix"] = options.name_prefix
    if options.name_suffix:
        _take(edited, "nameSuffix")
        edited["nameSuffix"] = options.name_suffix
    if options.images:
        wanted = [_image(index, expand(text, env)) for index, text in enumerate(options.images)]
        edited["images"] = _set_images(edited, wanted, file)
    if options.replicas:
        counts = [
            {"name": _replica_name(i, r.name), "count": r.count} for i, r in enumerate(options.replicas)
        ]
        edited["replicas"] = _merged_by_name(
            _named_entries(_take(edited, "replicas"), "replicas", file), counts
        )
    if options.common_labels:
        labels = ((key, expand(value, env)) for key, value in options.common_labels)
        edited["commonLabels"] = _added_metadata(edited, "commonLabels", labels, "label", file)
    if options.common_annotations:
        edited["commonAnnotations"] = _added_metadata(
            edited, "commonAnnotations", options.common_annotations, "annotation", file
        )
    if options.namespace:
        _take(edited, "namespace")
        edited["namespace"] = options.namespace
    if options.patches:
        edited["patches"] = _list_field(edited, "patches", file) + _option_patches(
            options.patches, app_folder
        )
    if options.components:
        edited["components"] = _added_components(edited, options.components, app_folder, repo_root, file)
    return edited


def _kustomization_name(app_folder: Path) -> str:
    names = kustomization_names(app_folder)
    if len(names) > 1:
        message = f"the app folder holds {' and '.join(names)}, which kustomize refuses; keep one"
        raise RenderError(message, file=names[0])
    if not names:
        raise RenderError("the app folder holds no kustomization.yaml; add one", file="kustomization.yaml")
    return names[0]


def _read_kustomization(path: Path, name: str) -> dict[str, Any]:
    try:
        (document,) = load_yaml_file(path, name, multi_document=False)
    except ConfigError as exc:
        message = exc.message if ";" in exc.message else f"{exc.message}; fix the kustomization"
        raise RenderError(message, file=exc.file or name, line=exc.line) from None
    if document is None:
        return {}  # Argo CD's edits fill an empty kustomization
    if not isinstance(document, dict):
        raise RenderError("the file holds no mapping of kustomization fields; fix it", file=name)
    return document


def _shadow_repository(app_folder: Path, repo_root: Path, shadow_root: Path) -> Path:
    """`shadow_root` made a stand-in for the repository, and the app folder's copy in it.

    Only the folders on the way down to the app folder are real, so `..` from the copy leads where it
    leads in the repository; every entry beside that way is a link, which kustomize follows for a
    folder (a base, a component), and which costs nothing however large the repository is.
    """
    source, shadow = repo_root, shadow_root
    shadow.mkdir()
    for part in app_folder.relative_to(repo_root).parts:
        with os.scandir(source) as entries:
            for entry in entries:
                if entry.name != part:
                    os.symlink(entry.path, shadow / entry.name)
        source, shadow = source / part, shadow / part
        shadow.mkdir()
    shutil.copytree(source, shadow, symlinks=True, ignore=_git_folders, dirs_exist_ok=True)
    return shadow


def _git_folders(_folder: str, names: list[str]) -> set[str]:
    return {".git"} & set(names)


def _take(document: dict[str, Any], field: str) -> Any:
    """Removes a top-level field and returns its value.

    kustomize decodes the file with Go's encoding/json, which matches keys regardless of case, so
    `NamePrefix` is the same field; of two, the later wins, and two mappings are merged.
    """
    value: Any = None
    for key in [key for key in document if key.lower() == field.lower()]:
        taken = document.pop(key)
        value = {**value, **taken} if isinstance(value, dict) and isinstance(taken, dict) else taken
    return value


def _list_field(document: dict[str, Any], field: str, file: str) -> list[Any]:
    value = _take(document, field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RenderError(
            f"{field} is not a list, so {OPTION} cannot extend it; fix the kustomization", file=file
        )
    return value


def _named_entries(value: Any, field: str, file: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        message = f"{field} is not a list of mappings, so {OPTION} cannot extend it; fix the kustomization"
        raise RenderError(message, file=file)
    return value


def _merged_by_name(current: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`kustomize edit set image|replicas`: the wanted entries, then the file's entries for other names
    (of two for one name, the first), sorted by name."""
    merged = {entry["name"]: entry for entry in wanted}
    for entry in current:
        merged.setdefault(entry.get("name", ""), entry)
    return sorted(merged.values(), key=lambda entry: str(entry.get("name", "")))


def _image(index: int, text: str) -> dict[str, str]:
    """An `images` entry as `kustomize edit set image` parses it."""
    key, separator, value = text.partition("=")
    name, tag, digest = _split_image(value if separator else text)
    problem = ""
    if not separator and name == text:
        problem = "gives no new name, tag or digest"
    elif separator and not key:
        problem = "names no image before '='"
    elif separator and not value:
        problem = "names nothing after '='"
    if problem:
        raise RenderError(f"{OPTION}.images[{index}] {text!r} {problem}; write it as {IMAGE_FORMS}")
    image = {"name": key, "newName": name} if separator else {"name": name}
    return image | {field: found for field, found in (("newTag", tag), ("digest", digest)) if found}


def _split_image(reference: str) -> tuple[str, str, str]:
    """Name, tag and digest, as kustomize's `image.Split`: a `:` before the first `/` is a port."""
    slash = max(reference.find("/"), 0)
    at, colon = reference.find("@", slash), reference.find(":", slash)
    if at < 0 and colon < 0:
        return reference, "", ""
    if at >= 0 and (colon < 0 or at < colon):
        return reference[:at], "", reference[at + 1 :]
    if at >= 0:
        return reference[:colon], reference[colon + 1 : at], reference[at + 1 :]
    return reference[:colon], reference[colon + 1 :], ""


def _set_images(document: dict[str, Any], wanted: list[dict[str, str]], file: str) -> list[dict[str, Any]]:
    current = _named_entries(_take(document, "images"), "images", file)
    current += _named_entries(_take(document, "imageTags"), "imageTags", file)  # kustomize folds them in
    by_name: dict[str, dict[str, Any]] = {image["name"]: image for image in wanted}
    for entry in current:
        name = entry.get("name", "")
        if name in by_name:
            old = by_name[name]
            by_name[name] = {
                key: entry.get(key, "") if value == _PRESERVE else value for key, value in old.items()
            }
    images = _merged_by_name(current, list(by_name.values()))
    return [
        {k: v for k, v in image.items() if k not in _IMAGE_FIELDS or v not in ("", None, _PRESERVE)}
        for image in images
    ]


def _replica_name(index: int, name: str) -> str:
    if not name or "=" in name:
        message = (
            f"{OPTION}.replicas[{index}] name {name!r} cannot be passed as name=count; use the object's name"
        )
        raise RenderError(message)
    return name


def _added_metadata(
    document: dict[str, Any], field: str, pairs: Iterable[tuple[str, str]], what: str, file: str
) -> dict[str, Any]:
    """`kustomize edit add label|annotation key:value` without `--force`."""
    current = _take(document, field)
    if current is not None and not isinstance(current, dict):
        raise RenderError(
            f"{field} is not a mapping, so {OPTION} cannot add to it; fix the kustomization", file=file
        )
    added = dict(current or {})
    for key, value in pairs:
        if not key or ":" in key:
            message = f"{OPTION}.{field} key {key!r} cannot be passed as key:value; use a valid {what} key"
            raise RenderError(message)
        if key in added:
            message = (
                f"{OPTION}.{field} sets the {what} {key!r}, which {file} sets already, and Argo CD refuses "
                f"that too (unless force{field[0].upper()}{field[1:]}); remove one of them"
            )
            raise RenderError(message)
        quoted = len(value) >= 2 and value[0] == value[-1] == '"'
        added[key] = value[1:-1] if quoted else value  # kustomize strips one pair of double quotes
    return added


def _option_patches(text: str, app_folder: Path) -> list[dict[str, Any]]:
    try:
        patches = json.loads(text)
    except ValueError:
        patches = None
    if not isinstance(patches, list):
        raise RenderError(f"{OPTION}.patches is not a list; give a list of patches")
    return [
        _option_patch(f"{OPTION}.patches[{index}]", patch, app_folder) for index, patch in enumerate(patches)
    ]


def _option_patch(where: str, patch: Any, app_folder: Path) -> dict[str, Any]:
    """The patch as Argo CD's typed `KustomizePatch` writes it (empty fields left out), checked."""
    if not isinstance(patch, dict):
        raise RenderError(f"{where} is not a mapping; give it a patch or a path, and a target")
    if unknown := [key for key in patch if key not in _PATCH_KEYS]:
        raise RenderError(f"{where} has the unknown key {unknown[0]!r}; use {', '.join(_PATCH_KEYS)}")
    written: dict[str, Any] = {}
    for key in ("path", "patch"):
        value = patch.get(key)
        if value is not None and not isinstance(value, str):
            raise RenderError(f"{where}.{key} is not a string; write it as text")
        if value:
            written[key] = value
    if "path" in written and "patch" in written:
        raise RenderError(f"{where} sets both patch and path, which kustomize refuses; keep one")
    if not written.get("patch", "").strip() and "path" not in written:
        raise RenderError(f"{where} sets neither patch nor path; give the patch inline or a file's path")
    target = patch.get("target")
    if target is not None:
        written["target"] = _target(where, target)
    if options := patch.get("options"):
        if not isinstance(options, dict) or not all(isinstance(value, bool) for value in options.values()):
            raise RenderError(
                f"{where}.options is not a mapping of true or false; e.g. allowNameChange: true"
            )
        written["options"] = options
    if "path" in written:
        _check_patch_text(
            f"{where}.path {written['path']!r}", _patch_file(where, written["path"], app_folder), target
        )
    else:
        _check_patch_text(f"{where}.patch", written["patch"], target)
    return written


def _target(where: str, target: Any) -> dict[str, str]:
    if not isinstance(target, dict):
        raise RenderError(f"{where}.target is not a mapping; give e.g. kind and name")
    for key, value in target.items():
        if key not in _TARGET_KEYS:
            raise RenderError(f"{where}.target has the unknown key {key!r}; use {', '.join(_TARGET_KEYS)}")
        if not isinstance(value, str):
            raise RenderError(f"{where}.target.{key} is not a string; write it as text")
    return {key: value for key, value in target.items() if value}  # an empty target selects every object


def _patch_file(where: str, written: str, app_folder: Path) -> str:
    path = (app_folder / written).resolve()
    if not path.is_relative_to(app_folder):
        message = (
            f"{where}.path {written!r} is outside the app folder, which kustomize refuses to read a patch "
            "from; move the patch into the app folder"
        )
        raise RenderError(message)
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise RenderError(
            f"{where}.path {written!r} is no file; check the path, which is relative to the app folder"
        ) from None
    except UnicodeDecodeError:
        raise RenderError(f"{where}.path {written!r} is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise RenderError(
            f"{where}.path {written!r} cannot be read ({exc.strerror}); check its permissions"
        ) from None


def _check_patch_text(where: str, text: str, target: Any) -> None:
    """Refuses what kustomize's PatchTransformer would refuse, as one sentence naming the option."""
    try:
        documents = [node for node in yaml.compose_all(text, Loader=KubeLoader) if node is not None]
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "it does not parse"
        raise RenderError(f"{where} is not valid YAML ({problem}); fix the patch") from None
    if not documents:
        raise RenderError(f"{where} is empty; write the patch")
    if isinstance(documents[0], yaml.SequenceNode):
        if target is None:
            raise RenderError(
                f"{where} is a JSON patch (a list of operations) without a target; add a target"
            )
        for number, operation in enumerate(documents[0].value, start=1):
            _check_operation(f"{where} operation {number}", operation)
        return
    for document in documents:
        if not isinstance(document, yaml.MappingNode):
            raise RenderError(
                f"{where} is neither an object to merge nor a list of JSON patch operations; fix it"
            )
        if not _scalar_at(document, "kind") or not _scalar_at(document, "metadata", "name"):
            message = f"{where} is a strategic-merge patch without a kind and metadata.name; add both"
            raise RenderError(message)
    if target is not None and len(documents) > 1:
        raise RenderError(
            f"{where} holds {len(documents)} strategic-merge patches and a target; give each its own entry"
        )


def _check_operation(where: str, operation: yaml.Node) -> None:
    if not isinstance(operation, yaml.MappingNode):
        raise RenderError(f"{where} is not a mapping of op, path and value; fix it")
    op = _scalar_at(operation, "op")
    if op not in _JSON_PATCH_OPS:
        raise RenderError(f"{where} has op {op!r}; use one of {', '.join(_JSON_PATCH_OPS)}")
    keys = {key.value for key, _ in operation.value if isinstance(key, yaml.ScalarNode)}
    for needed in ("path", *_JSON_PATCH_OPS[op]):
        if needed not in keys:
            raise RenderError(f"{where} ({op}) has no {needed}; add it")


def _scalar_at(node: yaml.Node, *keys: str) -> str | None:
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        found = [
            value for name, value in node.value if isinstance(name, yaml.ScalarNode) and name.value == key
        ]
        if not found:
            return None
        node = found[-1]
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _added_components(
    document: dict[str, Any], written: tuple[str, ...], app_folder: Path, repo_root: Path, file: str
) -> list[Any]:
    """`kustomize edit add component`: each match of each glob, unless listed already."""
    components = list(_list_field(document, "components", file))
    for index, pattern in enumerate(written):
        for component in _component_matches(
            f"{OPTION}.components[{index}] {pattern!r}", pattern, app_folder, repo_root
        ):
            if component != file and component not in components:
                components.append(component)
    return components


def _component_matches(where: str, pattern: str, app_folder: Path, repo_root: Path) -> list[str]:
    if glob.has_magic(pattern):
        # Go's filepath.Glob sorts each folder's names, so a match's path orders level by level.
        matches = sorted(
            glob.glob(pattern, root_dir=app_folder, include_hidden=True), key=lambda m: m.split("/")
        )
    else:
        matches = [pattern] if os.path.lexists(app_folder / pattern) else []
    if not matches:
        if "://" in pattern or pattern.startswith(_REMOTE_PREFIXES):
            return [pattern]  # kustomize fetches it, as in Argo CD
        raise RenderError(f"{where} does not exist; check the path, which is relative to the app folder")
    for match in matches:
        folder = (app_folder / match).resolve()
        if not folder.is_relative_to(repo_root):
            message = f"{where} leads outside the repository, which kubedrift refuses to read; use one inside"
            raise RenderError(message)
        if not any((folder / name).is_file() for name in KUSTOMIZATION_FILES):
            message = f"{where} is not a folder with a kustomization.yaml; name the component's folder"
            raise RenderError(message)
    return matches
