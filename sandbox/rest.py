"""HTTP handlers for resource paths: decode the request, call the API verb, encode the answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from aiohttp import web

from sandbox import protobuf
from sandbox.errors import StatusError, bad_request, unsupported_media_type
from sandbox.kinds import ResourceType
from sandbox.list_options import FRESH_WAIT_SECONDS, parse_list_options, too_large_resource_version
from sandbox.partial_metadata import partial_list, partial_object, wants_partial_metadata
from sandbox.patch_types import APPLY, PATCH_TYPES
from sandbox.resources import ListResult, ResourceAPI, manager_name
from sandbox.routing import ResourcePath
from sandbox.selectors import FieldSelector, LabelSelector, parse_field_selector, parse_label_selector
from sandbox.store import encode_json
from sandbox.tables import to_table, wants_table
from sandbox.watch import DEFAULT_TIMEOUT_SECONDS, WatchRequest, serve_watch

JSON = "application/json"
_BODY_TYPES = ("application/json", "application/yaml", "*/*", "")
_TRUE = ("true", "1")


def json_response(
    body: bytes | dict[str, Any],
    status: int = 200,
    content_type: str = JSON,
    headers: dict[str, str] | None = None,
    warnings: list[str] | None = None,
) -> web.Response:
    payload = body if isinstance(body, bytes) else encode_json(body)
    if not payload.endswith(b"\n"):
        # The API server's JSON encoder (json.Encoder.Encode) ends every document with a newline.
        payload += b"\n"
    all_headers = {"Content-Type": content_type, "Cache-Control": "no-cache, private", **(headers or {})}
    response = web.Response(body=payload, status=status, headers=all_headers)
    for warning in warnings or []:
        # RFC 7234 warn-code 299 with agent "-", as the API server sends them (kubectl prints them).
        response.headers.add("Warning", f"299 - {json.dumps(warning)}")
    return response


@dataclass
class WriteOptions:
    """The query options every write takes (CreateOptions, UpdateOptions, PatchOptions)."""

    dry_run: bool
    manager: str
    field_validation: str
    warnings: list[str] = field(default_factory=list)


def status_response(error: StatusError) -> web.Response:
    return json_response(error.to_status(), status=error.code, headers=getattr(error, "headers", None) or {})


def _media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _options_error(options_kind: str, field: str, value: Any, allowed: list[str]) -> StatusError:
    quoted = ", ".join(json.dumps(v) for v in allowed)
    return StatusError(
        422,
        "Invalid",
        f'{options_kind}.meta.k8s.io "" is invalid: {field}: Unsupported value: '
        f"{json.dumps(value)}: supported values: {quoted}",
    )


class ResourceHandlers:
    """The REST verbs on `/api/v1/...` and `/apis/{group}/{version}/...` resource paths."""

    def __init__(
        self,
        api: ResourceAPI,
        *,
        bookmark_interval: float,
        resource_version_wait: float = FRESH_WAIT_SECONDS,
    ) -> None:
        self.api = api
        self.bookmark_interval = bookmark_interval
        self.resource_version_wait = resource_version_wait

    async def handle(
        self, request: web.Request, path: ResourcePath, on_started: Callable[[int], None]
    ) -> web.StreamResponse:
        method = request.method
        watch = request.query.get("watch", "").lower() in _TRUE or path.legacy_watch
        if method == "GET":
            if watch:
                return await self._watch(request, path, on_started)
            return self._get(request, path) if path.name else await self._list(request, path)
        body = await request.read()
        if method == "POST" and path.name is None:
            return self._create(request, path, body)
        if method == "PUT" and path.name:
            return self._update(request, path, body)
        if method == "PATCH" and path.name:
            return self._patch(request, path, body)
        if method == "DELETE":
            return (
                self._delete(request, path, body)
                if path.name
                else self._delete_collection(request, path, body)
            )
        raise StatusError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            details={},
        )

    # ---- reads ----

    def _get(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        resource_type = path.resource_type
        stored = self.api.get(resource_type, path.namespace, path.name)
        if path.subresource == "scale":
            return json_response(self.api.scale_of(resource_type, stored))
        if wants_table(request.headers.get("Accept", "")):
            return json_response(
                to_table(
                    resource_type,
                    [stored],
                    resource_version=str(stored.rv),
                    include_object=request.query.get("includeObject", "Metadata"),
                )
            )
        partial = wants_partial_metadata(request.headers.get("Accept", ""))
        if partial:
            return json_response(partial_object(stored, partial))
        return json_response(stored.full_json())

    def _selectors(
        self, request: web.Request, resource_type: ResourceType, name: str | None = None
    ) -> tuple[LabelSelector, FieldSelector]:
        labels = parse_label_selector(request.query.get("labelSelector"))
        field_text = request.query.get("fieldSelector")
        if name is not None:
            field_text = f"metadata.name={name}" + (f",{field_text}" if field_text else "")
        fields = parse_field_selector(field_text, group=resource_type.group, kind=resource_type.kind)
        return labels, fields

    async def _wait_until_fresh(self, version: int) -> None:
        """Block a request for a resourceVersion the store has not reached yet, as the watch cache
        does, and answer 504 when it is still ahead after the wait."""
        store = self.api.store
        if version > store.resource_version and not await store.wait_for_version(
            version, self.resource_version_wait
        ):
            raise too_large_resource_version(version, store.resource_version)

    async def _list(self, request: web.Request, path: ResourcePath) -> web.Response:
        resource_type = path.resource_type
        options = parse_list_options(request, watch=False)
        labels, fields = self._selectors(request, resource_type)
        await self._wait_until_fresh(options.version)
        result = self.api.list(
            resource_type,
            path.namespace,
            label_selector=labels,
            field_selector=fields,
            limit=options.page_limit,
            continue_token=options.continue_token,
            exact_version=options.version if options.exact else None,
        )
        if wants_table(request.headers.get("Accept", "")):
            return json_response(
                to_table(
                    resource_type,
                    result.items,
                    resource_version=str(result.resource_version),
                    continue_token=result.continue_token,
                    include_object=request.query.get("includeObject", "Metadata"),
                )
            )
        partial = wants_partial_metadata(request.headers.get("Accept", ""))
        if partial:
            return json_response(
                partial_list(
                    result.items,
                    partial,
                    resource_version=result.resource_version,
                    continue_token=result.continue_token,
                    remaining=result.remaining,
                )
            )
        return json_response(encode_list(resource_type, result))

    async def _watch(
        self, request: web.Request, path: ResourcePath, on_started: Callable[[int], None]
    ) -> web.StreamResponse:
        resource_type = path.resource_type
        options = parse_list_options(request, watch=True)
        labels, fields = self._selectors(request, resource_type, path.name)
        timeout_text = request.query.get("timeoutSeconds", "")
        timeout = float(timeout_text) if timeout_text.strip().isdigit() else DEFAULT_TIMEOUT_SECONDS
        watch = WatchRequest(
            resource_type=resource_type,
            namespace=path.namespace if resource_type.namespaced else None,
            labels=labels,
            fields=fields,
            resource_version=options.resource_version,
            timeout_seconds=timeout,
            allow_bookmarks=request.query.get("allowWatchBookmarks", "").lower() in _TRUE,
            send_initial_events=options.send_initial_events,
            table=wants_table(request.headers.get("Accept", "")),
            include_object=request.query.get("includeObject", "Metadata"),
        )
        return await serve_watch(
            request,
            self.api,
            watch,
            bookmark_interval=self.bookmark_interval,
            resource_version_wait=self.resource_version_wait,
            on_started=on_started,
        )

    # ---- writes ----

    def _write_options(self, request: web.Request, options_kind: str) -> WriteOptions:
        dry_run_values = request.query.getall("dryRun", [])
        for value in dry_run_values:
            if value != "All":
                raise _options_error(options_kind, "dryRun", dry_run_values, ["All"])
        validation = request.query.get("fieldValidation", "")
        if validation not in ("", "Ignore", "Warn", "Strict"):
            raise _options_error(options_kind, "fieldValidation", validation, ["Ignore", "Strict", "Warn"])
        manager = manager_name(request.query.get("fieldManager"), request.headers.get("User-Agent", ""))
        # Without the parameter a server warns about unknown fields (the default since 1.27).
        return WriteOptions(bool(dry_run_values), manager, validation or "Warn")

    def _decode_object(self, request: web.Request, resource_type: ResourceType, body: bytes) -> Any:
        media_type = _media_type(request)
        if media_type == protobuf.MEDIA_TYPE:
            return protobuf.decode(body, resource_type)
        if media_type not in _BODY_TYPES:
            raise unsupported_media_type(["application/json", "application/yaml", protobuf.MEDIA_TYPE])
        try:
            if media_type == "application/yaml":
                decoded = yaml.safe_load(body.decode() or "null")
            else:
                decoded = json.loads(body or b"null")
        except (ValueError, yaml.YAMLError) as error:
            summary = body[:30].decode(errors="replace")
            raise bad_request(
                f"the object provided is unrecognized (must be of type {resource_type.kind}): "
                f"couldn't get version/kind; json parse error: {error} ({summary})"
            ) from None
        if not isinstance(decoded, dict):
            raise bad_request(
                f"the object provided is unrecognized (must be of type {resource_type.kind}): "
                f"couldn't get version/kind; json parse error: expected an object"
            )
        return decoded

    def _create(self, request: web.Request, path: ResourcePath, body: bytes) -> web.Response:
        options = self._write_options(request, "CreateOptions")
        obj = self._decode_object(request, path.resource_type, body)
        stored = self.api.create(
            path.resource_type,
            path.namespace,
            obj,
            manager=options.manager,
            dry_run=options.dry_run,
            field_validation=options.field_validation,
            warnings=options.warnings,
        )
        return json_response(stored.full_json(), status=201, warnings=options.warnings)

    def _update(self, request: web.Request, path: ResourcePath, body: bytes) -> web.Response:
        assert path.name is not None
        options = self._write_options(request, "UpdateOptions")
        obj = self._decode_object(request, path.resource_type, body)
        if path.subresource == "scale":
            scale = self.api.update_scale(
                path.resource_type,
                path.namespace,
                path.name,
                obj,
                manager=options.manager,
                dry_run=options.dry_run,
            )
            return json_response(scale)
        if path.subresource == "finalize":
            stored = self.api.lifecycle.finalize_namespace(path.name, obj, dry_run=options.dry_run)
            return json_response(stored.full_json())
        stored = self.api.update(
            path.resource_type,
            path.namespace,
            path.name,
            obj,
            manager=options.manager,
            dry_run=options.dry_run,
            subresource=path.subresource,
            field_validation=options.field_validation,
            warnings=options.warnings,
        )
        return json_response(stored.full_json(), warnings=options.warnings)

    def _patch(self, request: web.Request, path: ResourcePath, body: bytes) -> web.Response:
        assert path.name is not None
        options = self._write_options(request, "PatchOptions")
        patch_type = _media_type(request)
        if patch_type not in PATCH_TYPES:
            raise unsupported_media_type(PATCH_TYPES)
        force = request.query.get("force", "").lower() in _TRUE
        manager = options.manager
        if patch_type == APPLY and not request.query.get("fieldManager"):
            manager = ""
        try:
            if patch_type == APPLY:
                patch = yaml.safe_load(body.decode() or "null")
            else:
                patch = json.loads(body or b"null")
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request(f"error decoding patch: {error}") from None
        resource_type = path.resource_type
        if path.subresource == "scale":
            return json_response(
                self.api.patch_scale(
                    resource_type,
                    path.namespace,
                    path.name,
                    patch_type,
                    patch,
                    manager=manager,
                    dry_run=options.dry_run,
                )
            )
        existed = self.api.find(resource_type, path.namespace, path.name) is not None
        stored = self.api.patch(
            resource_type,
            path.namespace,
            path.name,
            patch_type,
            patch,
            manager=manager,
            force=force,
            dry_run=options.dry_run,
            subresource=path.subresource,
            field_validation=options.field_validation,
            warnings=options.warnings,
        )
        return json_response(stored.full_json(), status=200 if existed else 201, warnings=options.warnings)

    def _delete_options(self, request: web.Request, body: bytes) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if _media_type(request) == protobuf.MEDIA_TYPE and body:
            options = protobuf.decode_delete_options(body)
        elif body.strip():
            try:
                decoded = json.loads(body)
            except ValueError as error:
                raise bad_request(f"error decoding DeleteOptions: {error}") from None
            if isinstance(decoded, dict):
                options = decoded
        query = request.query
        if "propagationPolicy" in query:
            options["propagationPolicy"] = query["propagationPolicy"]
        if query.getall("dryRun", []):
            options["dryRun"] = query.getall("dryRun")
        if "orphanDependents" in query:
            options["orphanDependents"] = query["orphanDependents"].lower() in _TRUE
        if "gracePeriodSeconds" in query:
            try:
                options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
            except ValueError:
                raise bad_request(f"invalid gracePeriodSeconds: {query['gracePeriodSeconds']}") from None
        for value in options.get("dryRun") or []:
            if value != "All":
                raise _options_error("DeleteOptions", "dryRun", options["dryRun"], ["All"])
        if options.get("propagationPolicy") is None and options.get("orphanDependents") is not None:
            options["propagationPolicy"] = "Orphan" if options["orphanDependents"] else "Background"
        return options

    def _delete(self, request: web.Request, path: ResourcePath, body: bytes) -> web.Response:
        assert path.name is not None
        options = self._delete_options(request, body)
        resource_type = path.resource_type
        result = self.api.delete(
            resource_type,
            path.namespace,
            path.name,
            propagation=options.get("propagationPolicy"),
            preconditions=options.get("preconditions") or {},
            dry_run=bool(options.get("dryRun")),
            grace_period=grace_period_option(options),
        )
        if result.deleted and not resource_type.returns_deleted_object:
            details = {
                "name": path.name,
                "group": resource_type.group,
                "kind": resource_type.plural,
                "uid": result.object.uid,
            }
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
            )
        return json_response(result.object.full_json())

    def _delete_collection(self, request: web.Request, path: ResourcePath, body: bytes) -> web.Response:
        options = self._delete_options(request, body)
        resource_type = path.resource_type
        if "deletecollection" not in resource_type.verbs:
            raise StatusError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                details={},
            )
        labels, fields = self._selectors(request, resource_type)
        deleted = self.api.delete_collection(
            resource_type,
            path.namespace,
            label_selector=labels,
            field_selector=fields,
            propagation=options.get("propagationPolicy"),
            dry_run=bool(options.get("dryRun")),
        )
        return json_response(encode_list(resource_type, ListResult(deleted, self.api.store.resource_version)))


def grace_period_option(options: dict[str, Any]) -> int | None:
    """DeleteOptions.gracePeriodSeconds as an int, or None when the request leaves it to the object."""
    value = options.get("gracePeriodSeconds")
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid gracePeriodSeconds: {value!r}") from None


def encode_list(resource_type: ResourceType, result: ListResult) -> bytes:
    """A list document built from cached item encodings, without re-serializing any object."""
    metadata: dict[str, Any] = {"resourceVersion": str(result.resource_version)}
    if result.continue_token:
        metadata["continue"] = result.continue_token
    if result.remaining is not None:
        metadata["remainingItemCount"] = result.remaining
    if resource_type.custom:
        items = b",".join(item.full_json() for item in result.items)
    else:
        items = b",".join(item.item_json() for item in result.items)
    head = encode_json(
        {"kind": resource_type.list_kind, "apiVersion": resource_type.api_version, "metadata": metadata}
    )
    return head[:-1] + b',"items":[' + items + b"]}\n"
