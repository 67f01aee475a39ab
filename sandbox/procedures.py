"""Requests that run a procedure instead of storing an object, and the container endpoints the sandbox
does not serve.

- Reviews (create only, nothing stored): SelfSubjectAccessReview, SelfSubjectRulesReview,
  SubjectAccessReview and LocalSubjectAccessReview (authorization.py decides), TokenReview and
  SelfSubjectReview (authentication.py identifies). `kubectl auth can-i` and `kubectl auth whoami`.
- `serviceaccounts/{name}/token`: a TokenRequest answered with a token and its expiry
  (`kubectl create token`).
- `pods/{name}/eviction` (eviction.py) and `pods/{name}/binding` (what a scheduler posts).
- `certificatesigningrequests/{name}/approval`, and the requester a new CSR records.
- `pods/{name}/exec|attach|log|portforward` need a running container; the sandbox runs none, so they
  answer one Status error (400 BadRequest) with `CONTAINERS_NOT_SUPPORTED`.

`handle` answers a request it owns and returns None for every other, which the resource handlers serve.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from sandbox import protobuf
from sandbox.authentication import (
    API_AUDIENCES,
    DEFAULT_EXPIRATION_SECONDS,
    MIN_EXPIRATION_SECONDS,
    Authenticator,
    UserInfo,
)
from sandbox.authorization import Attributes, Authorizer
from sandbox.certificates import approve, record_requester
from sandbox.errors import StatusError, bad_request, conflict, invalid
from sandbox.eviction import evict, success
from sandbox.kinds import CONTAINER_SUBRESOURCES, CREATE_ONLY_VERBS, ResourceType
from sandbox.patch_types import APPLY, PATCH_TYPES, apply_patch
from sandbox.resources import manager_name
from sandbox.rest import json_response
from sandbox.routing import ResourcePath

if TYPE_CHECKING:
    from sandbox.resources import ResourceAPI

CONTAINERS_NOT_SUPPORTED = (
    "the kubedrift sandbox runs no containers: exec, attach, logs and port-forward are not supported"
)
PODS = ("", "pods")
SERVICE_ACCOUNTS = ("", "serviceaccounts")
CSRS = ("certificates.k8s.io", "certificatesigningrequests")
APPROVAL_CONDITIONS = ("Approved", "Denied")
APISERVER_MANAGER = "kube-apiserver"


def _decode(body: bytes, media_type: str, kind: str) -> dict[str, Any]:
    try:
        decoded = (
            yaml.safe_load(body.decode() or "null")
            if media_type == "application/yaml"
            else json.loads(body or b"null")
        )
    except (ValueError, yaml.YAMLError) as error:
        raise bad_request(
            f"the object provided is unrecognized (must be of type {kind}): couldn't get version/kind; "
            f"json parse error: {error}"
        ) from None
    if not isinstance(decoded, dict):
        raise bad_request(f"the object provided is unrecognized (must be of type {kind}): expected an object")
    return decoded


def _review(
    kind: str, api_version: str, spec: dict[str, Any], status: dict[str, Any], **metadata: Any
) -> dict[str, Any]:
    """A review answered as the server serializes it: empty metadata with a null creationTimestamp."""
    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {**metadata, "creationTimestamp": None},
        "spec": spec,
        "status": status,
    }


class Procedures:
    """The procedure endpoints of one sandbox."""

    def __init__(self, api: ResourceAPI, *, user: str) -> None:
        self.api = api
        self.authentication = Authenticator(user)
        self.authorizer = Authorizer(api)

    async def handle(self, request: web.Request, path: ResourcePath) -> web.StreamResponse | None:
        resource_type = path.resource_type
        key, subresource = resource_type.storage_key, path.subresource
        if key == PODS and subresource in CONTAINER_SUBRESOURCES:
            return self._containers(request, path)
        if resource_type.verbs == CREATE_ONLY_VERBS:
            return await self._review(request, path)
        if key == PODS and subresource == "eviction":
            return await self._evict(request, path)
        if key == PODS and subresource == "binding":
            return await self._bind(request, path)
        if key == SERVICE_ACCOUNTS and subresource == "token":
            return await self._token(request, path)
        if key == CSRS and subresource == "approval":
            return await self._approval(request, path)
        if key == CSRS and subresource is None and request.method == "POST":
            return await self._create_csr(request, path)
        return None

    # ---- shared ----

    def _only(self, request: web.Request, path: ResourcePath, *methods: str) -> None:
        """A method the endpoint does not register is refused before anything runs (go-restful's 405)."""
        if request.method not in methods:
            raise StatusError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                details={},
            )

    async def _body(self, request: web.Request, resource_type: ResourceType, kind: str) -> dict[str, Any]:
        media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type == protobuf.MEDIA_TYPE:
            # kubectl 1.32 and newer send typed bodies (reviews, tokens, evictions) as protobuf.
            return protobuf.decode(await request.read(), resource_type)
        return _decode(await request.read(), media_type, kind)

    def _user(self, request: web.Request) -> UserInfo:
        return self.authentication.user_of(request.headers, request.headers.getall("Impersonate-Group", []))

    # ---- exec, attach, logs, port-forward ----

    def _containers(self, request: web.Request, path: ResourcePath) -> web.Response:
        allowed = ("GET",) if path.subresource == "log" else ("GET", "POST")
        self._only(request, path, *allowed)
        assert path.name is not None
        self.api.get(path.resource_type, path.namespace, path.name)
        raise StatusError(400, "BadRequest", CONTAINERS_NOT_SUPPORTED)

    # ---- reviews ----

    async def _review(self, request: web.Request, path: ResourcePath) -> web.Response:
        resource_type = path.resource_type
        if path.name is not None:
            raise StatusError(404, "NotFound", "the server could not find the requested resource", details={})
        self._only(request, path, "POST")
        body = await self._body(request, resource_type, resource_type.kind)
        spec: dict[str, Any] = body["spec"] if isinstance(body.get("spec"), dict) else {}
        answer = {
            "SelfSubjectAccessReview": self._access_review,
            "LocalSubjectAccessReview": self._access_review,
            "SubjectAccessReview": self._access_review,
            "SelfSubjectRulesReview": self._rules_review,
            "TokenReview": self._token_review,
            "SelfSubjectReview": self._self_subject_review,
        }[resource_type.kind]
        return json_response(answer(request, path, spec), status=201)

    def _access_review(
        self, request: web.Request, path: ResourcePath, spec: dict[str, Any]
    ) -> dict[str, Any]:
        kind = path.resource_type.kind
        resource: dict[str, Any] = spec.get("resourceAttributes") or {}
        non_resource: dict[str, Any] = spec.get("nonResourceAttributes") or {}
        if bool(resource) == bool(non_resource):
            raise invalid(
                kind,
                "",
                [
                    (
                        "spec.resourceAttributes",
                        'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
                        "must be specified",
                    )
                ],
                group="authorization.k8s.io",
            )
        if kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
            if not spec.get("user") and not spec.get("groups"):
                raise invalid(
                    kind,
                    "",
                    [("spec.user", 'Invalid value: "": at least one of user or group must be specified')],
                    group="authorization.k8s.io",
                )
            user = UserInfo(
                str(spec.get("user") or ""),
                str(spec.get("uid") or ""),
                tuple(str(g) for g in spec.get("groups") or []),
            )
        else:
            user = self._user(request)
        if (
            kind == "LocalSubjectAccessReview"
            and resource
            and (resource.get("namespace") or path.namespace) != path.namespace
        ):
            raise bad_request(f"spec.resourceAttributes.namespace must match namespace: {path.namespace}")
        if resource:
            namespace = str(
                resource.get("namespace") or (path.namespace if kind == "LocalSubjectAccessReview" else "")
            )
            attributes = Attributes(
                verb=str(resource.get("verb") or ""),
                group=str(resource.get("group") or ""),
                resource=str(resource.get("resource") or ""),
                subresource=str(resource.get("subresource") or ""),
                namespace=namespace,
                name=str(resource.get("name") or ""),
            )
        else:
            attributes = Attributes(
                verb=str(non_resource.get("verb") or ""), path=str(non_resource.get("path") or "/")
            )
        decision = self.authorizer.decide(user, attributes)
        status: dict[str, Any] = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
        metadata = {"namespace": path.namespace} if kind == "LocalSubjectAccessReview" else {}
        return _review(kind, path.resource_type.api_version, spec, status, **metadata)

    def _rules_review(self, request: web.Request, path: ResourcePath, spec: dict[str, Any]) -> dict[str, Any]:
        resource_rules, non_resource_rules = self.authorizer.rules(
            self._user(request), str(spec.get("namespace") or "")
        )
        status = {
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": False,
        }
        return _review(path.resource_type.kind, path.resource_type.api_version, spec, status)

    def _token_review(self, request: web.Request, path: ResourcePath, spec: dict[str, Any]) -> dict[str, Any]:
        checked = self.authentication.check(
            str(spec.get("token") or ""), list(spec.get("audiences") or []) or None
        )
        status: dict[str, Any] = {"authenticated": checked.user is not None}
        if checked.user is not None:
            status["user"] = checked.user.to_json()
            status["audiences"] = list(checked.audiences)
        else:
            status["user"] = {}
            status["error"] = checked.error
        return _review(path.resource_type.kind, path.resource_type.api_version, spec, status)

    def _self_subject_review(
        self, request: web.Request, path: ResourcePath, spec: dict[str, Any]
    ) -> dict[str, Any]:
        review = _review(
            path.resource_type.kind,
            path.resource_type.api_version,
            {},
            {"userInfo": self._user(request).to_json()},
        )
        del review["spec"]
        return review

    # ---- service account tokens ----

    async def _token(self, request: web.Request, path: ResourcePath) -> web.Response:
        self._only(request, path, "POST")
        assert path.name is not None
        account = self.api.get(path.resource_type, path.namespace, path.name).obj
        body = await self._body(request, path.resource_type, "TokenRequest")
        spec = dict(body.get("spec") or {})
        expiration = spec.get("expirationSeconds")
        expiration = DEFAULT_EXPIRATION_SECONDS if expiration is None else int(expiration)
        if expiration < MIN_EXPIRATION_SECONDS:
            raise invalid(
                "TokenRequest",
                "",
                [
                    (
                        "spec.expirationSeconds",
                        f"Invalid value: {expiration}: may not specify a duration less than 10 minutes",
                    )
                ],
                group="authentication.k8s.io",
            )
        audiences = list(spec.get("audiences") or API_AUDIENCES)
        bound = spec.get("boundObjectRef")
        if bound:
            bound = self._bound_object(path.namespace or "", dict(bound))
        token, expires = self.authentication.issue(
            account, audiences=audiences, expiration_seconds=expiration, bound_object=bound
        )
        answer = {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": path.name, "namespace": path.namespace, "creationTimestamp": None},
            "spec": {
                "audiences": audiences,
                "expirationSeconds": expiration,
                "boundObjectRef": bound or None,
            },
            "status": {"token": token, "expirationTimestamp": expires},
        }
        return json_response(answer, status=201)

    def _bound_object(self, namespace: str, reference: dict[str, Any]) -> dict[str, Any]:
        """A token bound to a Pod or Secret lives only as long as that object: it must exist."""
        kind = str(reference.get("kind") or "")
        if kind not in ("Pod", "Secret"):
            raise bad_request(f"cannot bind token to object of type {kind}")
        found = self.api.get(self.api.resource("v1", kind), namespace, str(reference.get("name") or ""))
        uid = found.obj["metadata"]["uid"]
        if reference.get("uid") and reference["uid"] != uid:
            raise conflict(
                f"the UID in the bound object reference ({reference['uid']}) does not match the UID "
                "in record. The object might have been deleted and then recreated",
                group_resource=f"{kind.lower()}s",
                name=found.name,
            )
        return {"kind": kind, "apiVersion": "v1", "name": found.name, "uid": uid}

    # ---- eviction and binding ----

    async def _evict(self, request: web.Request, path: ResourcePath) -> web.Response:
        self._only(request, path, "POST")
        assert path.name is not None and path.namespace is not None
        body = await self._body(request, path.resource_type, "Eviction")
        answer = evict(
            self.api, path.namespace, path.name, body, dry_run=bool(request.query.getall("dryRun", []))
        )
        return json_response(answer, status=int(answer.get("code") or 201))

    async def _bind(self, request: web.Request, path: ResourcePath) -> web.Response:
        """BindingREST: set the pod's node and its PodScheduled condition, once."""
        self._only(request, path, "POST")
        assert path.name is not None
        body = await self._body(request, path.resource_type, "Binding")
        target = body.get("target") or {}
        node = str(target.get("name") or "")
        if not node or target.get("kind", "Node") != "Node":
            raise invalid("Binding", path.name, [("target.kind", "Not found: \"must be empty or 'Node'\"")])
        current = self.api.get(path.resource_type, path.namespace, path.name)
        if current.obj["metadata"].get("deletionTimestamp"):
            raise conflict(
                f"pod {path.name} is being deleted, cannot be assigned to a host",
                group_resource="pods",
                name=path.name,
            )
        assigned = (current.obj.get("spec") or {}).get("nodeName")
        if assigned:
            raise conflict(
                f'pod {path.name} is already assigned to node "{assigned}"',
                group_resource="pods",
                name=path.name,
            )
        if request.query.getall("dryRun", []):
            return json_response(success(), status=201)
        pod = current.copy()
        pod["spec"]["nodeName"] = node
        status = pod.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": self.api.clock(),
            }
        )
        status["conditions"] = conditions
        # BindingREST writes storage directly: the binding leaves no managedFields entry.
        self.api.store.update(PODS, pod)
        return json_response(success(), status=201)

    # ---- certificate signing requests ----

    async def _create_csr(self, request: web.Request, path: ResourcePath) -> web.Response:
        """A new CSR records who asked (csrStrategy.PrepareForCreate); otherwise a normal create."""
        body = await self._body(request, path.resource_type, path.resource_type.kind)
        record_requester(body, self._user(request))
        validation = request.query.get("fieldValidation", "") or "Warn"
        warnings: list[str] = []
        stored = self.api.create(
            path.resource_type,
            None,
            body,
            manager=manager_name(request.query.get("fieldManager"), request.headers.get("User-Agent", "")),
            dry_run=bool(request.query.getall("dryRun", [])),
            field_validation=validation,
            warnings=warnings,
        )
        return json_response(stored.full_json(), status=201, warnings=warnings)

    async def _approval(self, request: web.Request, path: ResourcePath) -> web.Response:
        """The approval subresource: only the Approved, Denied and Failed conditions change."""
        self._only(request, path, "GET", "PUT", "PATCH")
        assert path.name is not None
        resource_type = path.resource_type
        current = self.api.get(resource_type, None, path.name)
        if request.method == "GET":
            return json_response(current.full_json())
        if request.method == "PUT":
            wanted = await self._body(request, resource_type, resource_type.kind)
            resource_version = str((wanted.get("metadata") or {}).get("resourceVersion") or "")
            if resource_version and resource_version != str(current.rv):
                raise conflict(group_resource=resource_type.group_resource, name=path.name)
        else:
            patch_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if patch_type not in PATCH_TYPES or patch_type == APPLY:
                raise StatusError(
                    415, "UnsupportedMediaType", f"the media type {patch_type!r} is not supported here"
                )
            wanted = apply_patch(
                resource_type, current.copy(), patch_type, json.loads(await request.read() or b"null")
            )
        conditions = list(((wanted.get("status") or {}).get("conditions")) or [])
        stored = approve(
            self.api,
            resource_type,
            current,
            conditions,
            manager=manager_name(request.query.get("fieldManager"), request.headers.get("User-Agent", "")),
            dry_run=bool(request.query.getall("dryRun", [])),
        )
        return json_response(stored.full_json())
