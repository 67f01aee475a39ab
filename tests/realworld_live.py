"""Rebuilding a real-world corpus case (tests/realworld.py) on a sandbox API server, as it was made.

A case's `live` object records who wrote what in its managedFields. `Replay` writes it again on a
fresh sandbox, entry by entry in time order, each write by its own field manager and through real
kubectl, as a person or a tool would have written it:

- kubedrift's earlier apply: a server-side apply as `kubedrift`, with force, of what kubedrift
  applied: the live object projected onto kubedrift's `Apply` entry (`project`), plus the fields
  that entry lists but the server does not store (an empty map), plus Git's values where a later
  write by another manager took a field away from kubedrift, in Git's order;
- an adoption (a `kubectl-client-side-apply` entry and a last-applied-configuration annotation):
  `kubectl apply` (client-side) of the last-applied configuration, which creates the object;
- another manager's `Update`: that manager's fields set to their live values (`overlay`) with a
  `kubectl patch --type=merge --field-manager=<manager>`; the server gives it exactly the fields
  whose values changed (a first write creates the object with `kubectl create`);
- another manager's `Apply`: a server-side apply of the live object projected onto its entry;
- a `scale` write: `kubectl patch --subresource=scale`; `status` writes are skipped (status is
  never compared).

What no entry can say (a removal, a reordering) is written last, by the last manager that updated
the object (or `kubectl-edit`), as a merge patch to the live object; `Replay.hand_made` names it.
Every write is logged in `Replay.steps`, and `differences` tells where the rebuilt object still
differs from `live`, so a replay that built something else fails loudly instead of passing by
accident. Content the sandbox writes its own way (an allocated clusterIP) is in `UNREPRODUCIBLE`.

Also here: the minimal CustomResourceDefinitions the custom-resource cases need (the corpus records
the custom resources, not the CRDs their operators install).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.kubectl import Kubectl
from tests.realworld import RealWorldCase

KUBEDRIFT = "kubedrift"
CLIENT_SIDE_APPLY = "kubectl-client-side-apply"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# The person who makes a change that leaves no managedFields entry (a removal) when nobody else did.
HAND_EDITOR = "kubectl-edit"
SERVER_WRITTEN_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
)

FieldsTrie = dict[str, Any]
"""A FieldsV1 trie: `f:<field>`, `k:<json keys>` (a keyed list element), `v:<json value>` (a set
element), and `.` (the node itself)."""


class ReplayError(AssertionError):
    """The sandbox refused or could not express a write of the replay; the message says which."""


# --------------------------------------------------------------------------------------------------
# FieldsV1 tries


def _children(trie: FieldsTrie) -> dict[str, Any]:
    return {key: sub for key, sub in trie.items() if key != "."}


def _matches(item: Any, keys: dict[str, Any], *, partial: bool = False) -> bool:
    """Whether a list element has the key values of a `k:` trie entry. `partial`: a manifest's
    element may leave out a key field the server defaults (a port's protocol)."""
    if not isinstance(item, dict):
        return False
    if partial:
        return any(name in item for name in keys) and all(
            item.get(name, value) == value for name, value in keys.items()
        )
    return all(item.get(name) == value for name, value in keys.items())


def project(value: Any, trie: FieldsTrie, *, partial: bool = False) -> Any:
    """`value` restricted to the fields the trie lists; a leaf (a trie with no children) keeps the
    whole value, as an atomic list or map, a scalar, or a duplicated keyed element is owned whole."""
    children = _children(trie)
    if not children:
        return copy.deepcopy(value)
    if isinstance(value, dict):
        projected: dict[str, Any] = {}
        for key, sub in children.items():
            if not key.startswith("f:"):
                raise ReplayError(f"a map's trie names {key!r}, not a field")
            name = key[2:]
            if name in value:
                projected[name] = project(value[name], sub, partial=partial)
        return projected
    if isinstance(value, list):
        kept: list[Any] = []
        for item in value:
            for key, sub in children.items():
                if key.startswith("k:") and _matches(item, json.loads(key[2:]), partial=partial):
                    kept.append(project(item, sub, partial=partial))
                    break
                if key.startswith("v:") and item == json.loads(key[2:]):
                    kept.append(copy.deepcopy(item))
                    break
        return kept
    raise ReplayError(f"the trie has children {sorted(children)} where the value is the scalar {value!r}")


def order_like(value: Any, reference: Any, trie: FieldsTrie) -> Any:
    """`value` (a projection onto `trie`) with its keyed and set lists in the order of `reference`:
    managedFields do not record the order an applier sent, but kubedrift sent Git's. Elements
    `reference` lacks keep their order, after the others."""
    children = _children(trie)
    if not children:
        return value
    if isinstance(value, dict):
        reference = reference if isinstance(reference, dict) else {}
        return {
            name: order_like(item, reference.get(name), trie.get(f"f:{name}", {}))
            for name, item in value.items()
        }
    if not isinstance(value, list) or not isinstance(reference, list):
        return value

    def placed(item: Any) -> tuple[int, Any, FieldsTrie]:
        for key, sub in children.items():
            if key.startswith("v:") and item == json.loads(key[2:]):
                return (reference.index(item) if item in reference else len(reference)), None, {}
            if key.startswith("k:") and _matches(item, keys := json.loads(key[2:])):
                for index, candidate in enumerate(reference):
                    known = {name: wanted for name, wanted in keys.items() if name in candidate}
                    if known and _matches(candidate, known):
                        return index, candidate, sub
                return len(reference), None, sub
        return len(reference), None, {}

    ordered = sorted(
        ((placed(item), position, item) for position, item in enumerate(value)), key=lambda t: (t[0][0], t[1])
    )
    return [order_like(item, where[1], where[2]) for where, _, item in ordered]


def overlay(current: Any, source: Any, trie: FieldsTrie, *, partial: bool = False) -> Any:
    """`current` with every field the trie lists set to its value in `source`: what an `Update` by
    the trie's manager changed. A keyed element `current` lacks goes to its position in `source`;
    what `source` lacks stays as it is. `partial`: `source` is a manifest (see `_matches`)."""
    children = _children(trie)
    if not children:
        return copy.deepcopy(source)
    if isinstance(source, dict):
        result = dict(current) if isinstance(current, dict) else {}
        for key, sub in children.items():
            name = key[2:]
            if name in source:
                result[name] = overlay(result.get(name), source[name], sub, partial=partial)
        return result
    if isinstance(source, list):
        items = list(current) if isinstance(current, list) else []
        for key, sub in children.items():
            if key.startswith("k:"):
                keys = json.loads(key[2:])
                wanted = [item for item in source if _matches(item, keys, partial=partial)]
                have = [index for index, item in enumerate(items) if _matches(item, keys, partial=partial)]
                if not wanted:
                    continue
                if len(wanted) == 1 and len(have) == 1 and _children(sub):
                    items[have[0]] = overlay(items[have[0]], wanted[0], sub, partial=partial)
                    continue
                at = have[0] if have else min(source.index(wanted[0]), len(items))
                items = [item for item in items if not _matches(item, keys, partial=partial)]
                items[at:at] = copy.deepcopy(wanted)
            elif key.startswith("v:"):
                value = json.loads(key[2:])
                if value in source and value not in items:
                    items.insert(min(source.index(value), len(items)), value)
            else:
                raise ReplayError(f"a list's trie names {key!r}, which the replay cannot express")
        return items
    return copy.deepcopy(source)


def fill_absent(value: Any, manifest: Any, trie: FieldsTrie) -> Any:
    """`value` (a projection of a stored object onto an applier's trie) with the fields the trie
    lists but the object does not store, taken from the manifest the applier sent: an empty map,
    or a `false` the API omits, is owned all the same."""
    children = _children(trie)
    if not children:
        return value
    if isinstance(value, dict) and isinstance(manifest, dict):
        result = dict(value)
        for key, sub in children.items():
            name = key[2:]
            if not key.startswith("f:") or name not in manifest:
                continue
            if name in result:
                result[name] = fill_absent(result[name], manifest[name], sub)
            else:
                result[name] = project(manifest[name], sub, partial=True)
        return result
    if isinstance(value, list) and isinstance(manifest, list):
        result_items = list(value)
        for key, sub in children.items():
            if not key.startswith("k:"):
                continue
            keys = json.loads(key[2:])
            have = [index for index, item in enumerate(result_items) if _matches(item, keys)]
            sent = [item for item in manifest if _matches(item, keys, partial=True)]
            if len(have) == 1 and len(sent) == 1:
                result_items[have[0]] = fill_absent(result_items[have[0]], sent[0], sub)
        return result_items
    return value


def merge_tries(tries: Iterable[FieldsTrie]) -> FieldsTrie:
    """The union of tries: every field any of them lists."""
    merged: FieldsTrie = {}
    for trie in tries:
        for key, sub in trie.items():
            merged[key] = merge_tries([merged.get(key, {}), sub])
    return merged


# --------------------------------------------------------------------------------------------------
# Objects


def identity(obj: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, name and namespace: what every write body starts from."""
    metadata = {"name": obj["metadata"]["name"]}
    if obj["metadata"].get("namespace"):
        metadata["namespace"] = obj["metadata"]["namespace"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": metadata}


def with_identity(obj: dict[str, Any], body: Any) -> dict[str, Any]:
    """`body` (a projection of `obj`) with `obj`'s apiVersion, kind, name and namespace."""
    result = identity(obj)
    body = body if isinstance(body, dict) else {}
    for key, value in body.items():
        if key == "metadata":
            result["metadata"] = {**value, **result["metadata"]}
        elif key not in ("apiVersion", "kind"):
            result[key] = value
    return result


def manifest_of(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` as a write body: without status and without the metadata the server writes."""
    body = {key: copy.deepcopy(value) for key, value in obj.items() if key != "status"}
    body["metadata"] = {
        key: value for key, value in body["metadata"].items() if key not in SERVER_WRITTEN_METADATA
    }
    return body


def applied_by(obj: dict[str, Any], manager: str) -> FieldsTrie | None:
    """The trie of `manager`'s `Apply` entry on `obj`, or None when it has none."""
    for entry in obj["metadata"].get("managedFields") or []:
        if entry["manager"] == manager and entry["operation"] == "Apply" and not entry.get("subresource"):
            trie: FieldsTrie = entry.get("fieldsV1") or {}
            return trie
    return None


def owned_paths(trie: FieldsTrie | None) -> set[tuple[str, ...]]:
    """Every node a trie names, as a path of its keys; `.` markers, which only restate that a
    node with children is owned itself, are left out."""
    paths: set[tuple[str, ...]] = set()

    def visit(node: FieldsTrie, prefix: tuple[str, ...]) -> None:
        for key, sub in node.items():
            if key != ".":
                paths.add((*prefix, key))
                visit(sub, (*prefix, key))

    visit(trie or {}, ())
    return paths


def _walk(left: Any, right: Any, path: str) -> Iterator[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            escaped = key.replace("~", "~0").replace("/", "~1")
            yield from _walk(left.get(key, _ABSENT), right.get(key, _ABSENT), f"{path}/{escaped}")
    elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (one, other) in enumerate(zip(left, right, strict=True)):
            yield from _walk(one, other, f"{path}/{index}")
    elif left != right:
        yield path or "/"


def under(pointer: str, prefixes: Iterable[str]) -> bool:
    """Whether `pointer` is one of `prefixes` or lies under one."""
    return any(pointer == prefix or pointer.startswith(prefix + "/") for prefix in prefixes)


_ABSENT = object()


def differences(rebuilt: dict[str, Any], live: dict[str, Any], *, skip: Iterable[str] = ()) -> list[str]:
    """JSON pointers where the rebuilt object's content differs from `live`'s: everything but
    status and server-written metadata (the last-applied configuration compared as JSON), less the
    pointers in `skip` and what lies under them."""
    left, right = _comparable(rebuilt), _comparable(live)
    skipped = tuple(skip)
    return [pointer for pointer in _walk(left, right, "") if not under(pointer, skipped)]


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    body = manifest_of(obj)
    annotations = body["metadata"].get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        body["metadata"]["annotations"] = {**annotations, LAST_APPLIED: json.loads(annotations[LAST_APPLIED])}
    return body


def merge_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`; a changed list goes whole."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = copy.deepcopy(value)
        elif old[key] != value:
            nested = isinstance(old[key], dict) and isinstance(value, dict) and value
            patch[key] = merge_patch(old[key], value) if nested else copy.deepcopy(value)
    return patch


def _with_value(obj: Any, pointer: str, found_value: tuple[bool, Any]) -> Any:
    """`obj` with the value at `pointer` set (or removed when not found)."""
    found, value = found_value
    tokens = [raw.replace("~1", "/").replace("~0", "~") for raw in pointer.split("/")[1:]]
    parent = obj
    for token in tokens[:-1]:
        parent = parent[int(token)] if isinstance(parent, list) else parent.setdefault(token, {})
    last = tokens[-1]
    if isinstance(parent, list):
        parent[int(last)] = value
    elif found:
        parent[last] = value
    else:
        parent.pop(last, None)
    return obj


def secret_source(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret with its write-only `stringData` read back from `data`, so that a projection onto an
    entry that applied `stringData` finds its values; other objects as they are."""
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1" or not isinstance(obj.get("data"), dict):
        return obj
    decoded = {key: base64.b64decode(value).decode() for key, value in obj["data"].items()}
    return {**obj, "stringData": decoded}


def resolve(obj: Any, pointer: str) -> tuple[bool, Any]:
    """(found, value) at an RFC 6901 pointer."""
    value = obj
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            return False, None
    return True, value


# --------------------------------------------------------------------------------------------------
# Custom resources: the definitions their operators install, reduced to what the cases use.


def _crd(
    group: str, kind: str, plural: str, scope: str, version: str, spec: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "scope": scope,
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": spec,
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }


_OPEN_OBJECT: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

CUSTOM_RESOURCE_DEFINITIONS: dict[tuple[str, str], dict[str, Any]] = {
    # traefik/traefik-helm-chart crds/traefik.io_ingressroutes.yaml: lists without a list type (atomic).
    ("traefik.io", "IngressRoute"): _crd(
        "traefik.io",
        "IngressRoute",
        "ingressroutes",
        "Namespaced",
        "v1alpha1",
        {
            "type": "object",
            "required": ["routes"],
            "properties": {
                "entryPoints": {"type": "array", "items": {"type": "string"}},
                "routes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kind", "match"],
                        "properties": {
                            "kind": {"type": "string", "enum": ["Rule"]},
                            "match": {"type": "string"},
                            "services": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {
                                        "kind": {"type": "string", "enum": ["Service", "TraefikService"]},
                                        "name": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    ),
    # bitnami-labs/sealed-secrets helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml.
    ("bitnami.com", "SealedSecret"): _crd(
        "bitnami.com",
        "SealedSecret",
        "sealedsecrets",
        "Namespaced",
        "v1alpha1",
        {
            "type": "object",
            "required": ["encryptedData"],
            "properties": {
                "encryptedData": _OPEN_OBJECT,
                "template": {
                    "type": "object",
                    "properties": {
                        "data": {
                            "type": "object",
                            "nullable": True,
                            "additionalProperties": {"type": "string"},
                        },
                        "immutable": {"type": "boolean"},
                        "metadata": {**_OPEN_OBJECT, "nullable": True},
                        "type": {"type": "string"},
                    },
                },
            },
        },
    ),
    # kyverno/kyverno config/crds/kyverno/kyverno.io_clusterpolicies.yaml: rules has no list type, and
    # each rule's skipBackgroundRequests defaults to true.
    ("kyverno.io", "ClusterPolicy"): _crd(
        "kyverno.io",
        "ClusterPolicy",
        "clusterpolicies",
        "Cluster",
        "v1",
        {
            "type": "object",
            "properties": {
                "background": {"type": "boolean", "default": True},
                "validationFailureAction": {"type": "string", "default": "Audit"},
                "rules": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "match": _OPEN_OBJECT,
                            "validate": _OPEN_OBJECT,
                            "skipBackgroundRequests": {"type": "boolean", "default": True},
                        },
                    },
                },
            },
        },
    ),
}


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


# --------------------------------------------------------------------------------------------------
# The replay


@dataclass
class Replay:
    """The writes that rebuild one case's live object on a sandbox, and a log of them."""

    case: RealWorldCase
    kubectl: Kubectl
    steps: list[str] = field(default_factory=list)
    """What was done, one line a write (`kubectl ...` and the manager), for failure messages."""
    hand_made: list[str] = field(default_factory=list)
    """The pointers the last write (a merge patch to the live object) changed: what no entry explains."""

    @property
    def live(self) -> dict[str, Any]:
        return self.case.live

    @property
    def type_name(self) -> str:
        """`kind.version.group/name`, unambiguous to kubectl."""
        group = group_of(self.live["apiVersion"])
        version = self.live["apiVersion"].rpartition("/")[2]
        kind = self.live["kind"].lower()
        resource = f"{kind}.{version}.{group}" if group else kind
        return f"{resource}/{self.live['metadata']['name']}"

    def namespace_args(self) -> list[str]:
        namespace = self.live["metadata"].get("namespace")
        return ["-n", namespace] if namespace else []

    def run(self, *args: str, input: str | None = None, note: str = "") -> str:
        self.steps.append(f"kubectl {' '.join(args)}{f'  # {note}' if note else ''}")
        completed = self.kubectl.run(*args, input=input, check=False)
        if completed.returncode != 0:
            said = completed.stderr.strip() or completed.stdout.strip()
            raise ReplayError(
                f"{self.case.id}: `kubectl {' '.join(args)}` exited {completed.returncode}: {said}\n"
                f"input: {(input or '')[:2000]}\nreplay so far:\n" + "\n".join(self.steps)
            )
        return completed.stdout

    def current(self) -> dict[str, Any] | None:
        completed = self.kubectl.run(
            "get", self.type_name, *self.namespace_args(), "-o", "json", "--show-managed-fields", check=False
        )
        if completed.returncode != 0:
            if "NotFound" in completed.stderr or "not found" in completed.stderr:
                return None
            raise ReplayError(f"{self.case.id}: kubectl get {self.type_name}: {completed.stderr.strip()}")
        obj: dict[str, Any] = json.loads(completed.stdout)
        return obj

    # The steps -------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """What the case's object needs to exist: its CRD and its namespace."""
        definition = CUSTOM_RESOURCE_DEFINITIONS.get((group_of(self.live["apiVersion"]), self.live["kind"]))
        if definition is not None:
            self.run(
                "apply",
                "--server-side",
                "--field-manager=platform",
                "-f",
                "-",
                input=json.dumps(definition),
                note="the operator's CRD",
            )
            self.run("wait", "--for=condition=Established", f"crd/{definition['metadata']['name']}")
        namespace = self.live["metadata"].get("namespace")
        if namespace and self.kubectl.run("get", "namespace", namespace, check=False).returncode != 0:
            self.run("create", "namespace", namespace)

    def kubedrift_applied(self, trie: FieldsTrie) -> Any:
        """What kubedrift applied: the live object projected onto its entry, plus what the object
        does not store (`fill_absent`), plus Git's values where another manager's later write
        took a field from kubedrift (its entry no longer lists it), in Git's order."""
        desired = self.case.desired
        applied = fill_absent(project(secret_source(self.live), trie), desired, trie)
        taken = merge_tries(
            entry.get("fieldsV1") or {}
            for entry in self.live["metadata"].get("managedFields") or []
            if entry["manager"] != KUBEDRIFT and entry.get("subresource") != "status"
        )
        if taken:
            applied = overlay(applied, desired, taken, partial=True)
        return order_like(applied, desired, merge_tries([trie, taken]))

    def server_side_apply(self, manager: str, trie: FieldsTrie) -> None:
        if manager == KUBEDRIFT:
            body = with_identity(self.live, self.kubedrift_applied(trie))
        else:
            body = with_identity(self.live, project(secret_source(self.live), trie))
        self.run(
            "apply",
            "--server-side",
            f"--field-manager={manager}",
            "--force-conflicts",
            "-f",
            "-",
            input=json.dumps(body),
            note=f"{manager} Apply",
        )

    def client_side_apply(self) -> None:
        annotations = self.live["metadata"].get("annotations") or {}
        self.run("apply", "-f", "-", input=annotations[LAST_APPLIED], note="client-side apply (adoption)")

    def update(self, manager: str, trie: FieldsTrie) -> None:
        current = self.current()
        if current is None:  # the first write: the manager created the object
            body = with_identity(self.live, project(self.live, trie))
            self.run("create", f"--field-manager={manager}", "-f", "-", input=json.dumps(body), note="Update")
            return
        self.patch(manager, current, overlay(current, self.live, trie), note=f"{manager} Update")

    def patch(self, manager: str, current: dict[str, Any], target: dict[str, Any], note: str) -> None:
        """An `Update` by `manager` that makes `current` into `target`: a JSON merge patch, which
        (unlike `kubectl replace`) leaves a last-applied configuration as it is. The server gives
        the manager exactly the fields whose values changed, whatever the patch's shape."""
        patch = merge_patch(manifest_of(current), manifest_of(target))
        if not patch:
            self.steps.append(f"# {note}: the fields already hold their live values")
            return
        self.run(
            "patch",
            self.type_name,
            *self.namespace_args(),
            "--type=merge",
            "-p",
            json.dumps(patch),
            f"--field-manager={manager}",
            note=note,
        )

    def scale(self, manager: str) -> None:
        patch = json.dumps({"spec": {"replicas": self.live["spec"]["replicas"]}})
        self.run(
            "patch",
            self.type_name,
            *self.namespace_args(),
            "--subresource=scale",
            "--type=merge",
            "-p",
            patch,
            f"--field-manager={manager}",
        )

    def finish(self, manager: str) -> None:
        """What no entry explains (a removal, a reordering), written by the last updater."""
        current = self.current()
        if current is None:
            raise ReplayError(f"{self.case.id}: the replay made no object")
        unreproducible = tuple(UNREPRODUCIBLE.get(self.case.id, {}))
        self.hand_made = differences(current, self.live, skip=unreproducible)
        if not self.hand_made:
            return
        target = copy.deepcopy(self.live)
        for pointer in unreproducible:  # the sandbox's own values stay
            target = _with_value(target, pointer, resolve(current, pointer))
        self.patch(manager, current, target, note=f"what no entry explains: {', '.join(self.hand_made)}")

    def __call__(self) -> dict[str, Any]:
        """Rebuild the live object; the answer is the object as the sandbox then stores it."""
        self.prepare()
        adoption = LAST_APPLIED in (self.live["metadata"].get("annotations") or {})
        entries = sorted(
            enumerate(self.live["metadata"].get("managedFields") or []),
            key=lambda pair: (
                not _creates(pair[1], adoption),
                pair[1].get("time", ""),
                _rank(pair[1]),
                pair[0],
            ),
        )
        last_updater = HAND_EDITOR
        for _, entry in entries:
            manager, trie = entry["manager"], entry.get("fieldsV1") or {}
            subresource = entry.get("subresource")
            if subresource == "status":
                continue
            if subresource == "scale":
                self.scale(manager)
            elif subresource:
                raise ReplayError(f"{self.case.id}: a write through /{subresource} cannot be replayed")
            elif entry["operation"] == "Apply":
                self.server_side_apply(manager, trie)
            elif manager == CLIENT_SIDE_APPLY and adoption:
                self.client_side_apply()
                last_updater = manager
            else:
                self.update(manager, trie)
                last_updater = manager
        self.finish(last_updater)
        rebuilt = self.current()
        assert rebuilt is not None
        return rebuilt


def _creates(entry: dict[str, Any], adoption: bool) -> bool:
    """Whether the entry's manager made the object: in an adoption, `kubectl apply` did, though its
    entry carries the time of its last apply (a controller's entry can be older)."""
    return adoption and entry["manager"] == CLIENT_SIDE_APPLY and entry["operation"] == "Update"


def _rank(entry: dict[str, Any]) -> int:
    """Among writes at the same second: an apply creates before a controller reacts, status last."""
    if entry.get("subresource"):
        return 2
    if entry["operation"] == "Apply" or entry["manager"] == CLIENT_SIDE_APPLY:
        return 0
    return 1


# Content of `live` the sandbox writes its own way, by case: pointer -> why. Left out of the comparison
# of the rebuilt object and never written by the replay; never a field the case's verdict rests on.
UNREPRODUCIBLE: dict[str, dict[str, str]] = {
    "033-pod-containerport-without-protocol": {
        "/spec/nodeName": "the scheduler's binding; the sandbox runs no scheduler and has no node worker-1",
        "/spec/volumes/0/name": "the service-account admission names the token volume with a random suffix",
        "/spec/containers/0/volumeMounts/0/name": "the same random token volume name, mounted",
    },
    "035-crd-preserveunknownfields-false": {
        "/metadata/finalizers": "the sandbox, as an API server does, adds the finalizer "
        "customresourcecleanup.apiextensions.k8s.io to a CRD it creates; the corpus's live object lacks it",
    },
    "038-sealedsecret-creationtimestamp-null": {
        "/spec/template/metadata/creationTimestamp": "the sandbox's server-side apply drops the null "
        "kubedrift applied inside an x-kubernetes-preserve-unknown-fields object (a create keeps it); "
        "the corpus's live object keeps it. A null sets nothing, so no verdict rests on it",
    },
    "048-shared-annotation-dropped-by-one-applier": {
        "/spec/clusterIP": "allocated by the server from its own range",
        "/spec/clusterIPs": "allocated by the server from its own range",
    },
}

# What the managedFields entries cannot say and the last write makes, by case: pointer -> why. The
# writes of the entries alone must rebuild everything else (`Replay.hand_made` is checked against it).
LEFT_TO_THE_LAST_WRITE: dict[str, dict[str, str]] = {
    "022-env-reordered-by-ui-edit": {
        "/spec/template/spec/containers/0/env": "Rancher's UI edit reordered the env list kubedrift applied "
        "in Git's order; a reordering changes no field, so it leaves no managedFields entry",
    },
    "023-csa-appended-new-env-var-adoption": {
        "/spec/template/spec/containers/0/env": "the second `kubectl apply` appended MY_POD_IP after "
        "ADVERTISE_ADDR (a strategic merge patch appends a new item); the replay's single apply of the "
        "last-applied configuration creates the list in its order",
    },
    "029-csa-configmap-key-dropped-adoption": {
        "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration": "kubectl writes the "
        "namespace it applied to into the last-applied configuration; the corpus's one names none",
    },
}
