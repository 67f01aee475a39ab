"""The resourceVersion rules of list and watch requests, as the API server and its watch cache apply them.

`parse_list_options` reads and validates the query (ListOptions validation answers 422 as
`ListOptions.meta.k8s.io "" is invalid: ...`); `ListOptions.read_mode` says how a list is served:
- `latest`: the current state, at least as new as `resourceVersion` (unset, `0`, or NotOlderThan);
- `exact`: the state at exactly `resourceVersion` (Exact, or the legacy `limit` with a version), or 410
  Expired when that version is compacted.
A version newer than the store's is waited for, up to `fresh_wait` seconds (the watch cache blocks up to
3 s), and then answered 504 "Too large resource version".
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from sandbox.errors import StatusError, bad_request, invalid

EXACT = "Exact"
NOT_OLDER_THAN = "NotOlderThan"
# How long the watch cache blocks a request for a version it has not reached (blockTimeout), and the
# retry it then suggests (resourceVersionTooHighRetrySeconds).
FRESH_WAIT_SECONDS = 3.0
TOO_LARGE_RETRY_SECONDS = 1
_TRUE = ("true", "1")


@dataclass(frozen=True)
class ListOptions:
    """The version-related query options of one list or watch."""

    resource_version: str
    match: str
    continue_token: str | None
    limit: int
    send_initial_events: bool | None

    @property
    def version(self) -> int:
        """The requested resourceVersion as a number (0 when unset or "0")."""
        return int(self.resource_version) if self.resource_version not in ("", "0") else 0

    @property
    def exact(self) -> bool:
        """Whether a list must show exactly `resourceVersion`: Exact, or a `limit` with a version
        (the legacy exact match, which the watch cache hands to etcd)."""
        if self.match == EXACT:
            return True
        return not self.match and self.limit > 0 and self.version > 0 and not self.continue_token

    @property
    def page_limit(self) -> int:
        """The limit a list honours: none at resourceVersion "0", which the watch cache serves whole."""
        return 0 if self.resource_version == "0" else self.limit


def _invalid(causes: list[tuple[str, str]]) -> StatusError:
    return invalid("ListOptions", "", causes, group="meta.k8s.io")


def _parse_version(text: str) -> None:
    """400 for a resourceVersion that is not an unsigned integer (storage.ValidateListOptions)."""
    if text in ("", "0") or text.isdigit():
        return
    detail = f'strconv.ParseUint: parsing "{text}": invalid syntax'
    raise bad_request(f'invalid resource version: resourceVersion: Invalid value: "{text}": {detail}')


def parse_list_options(request: web.Request, *, watch: bool) -> ListOptions:
    """The options of a list or watch, checked as ValidateListOptions checks them."""
    query = request.query
    limit_text = query.get("limit", "0") or "0"
    if not limit_text.lstrip("-").isdigit():
        raise bad_request(f"invalid limit: {limit_text}")
    initial_text = query.get("sendInitialEvents")
    options = ListOptions(
        resource_version=query.get("resourceVersion", ""),
        match=query.get("resourceVersionMatch", ""),
        continue_token=query.get("continue") or None,
        limit=max(0, int(limit_text)),
        send_initial_events=None if initial_text is None else initial_text.lower() in _TRUE,
    )
    causes = _watch_causes(options) if watch else _list_causes(options)
    if causes:
        raise _invalid(causes)
    _parse_version(options.resource_version)
    if not watch and options.continue_token and options.resource_version not in ("", "0"):
        raise bad_request("specifying resource version is not allowed when using continue")
    return options


_MATCH = "resourceVersionMatch"
_CONTINUE_FORBIDDEN = "Forbidden: resourceVersionMatch is forbidden when continue is provided"


def _list_causes(options: ListOptions) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    match = options.match
    if match:
        if not options.resource_version:
            forbidden = "resourceVersionMatch is forbidden unless resourceVersion is provided"
            causes.append((_MATCH, f"Forbidden: {forbidden}"))
        if options.continue_token:
            causes.append((_MATCH, _CONTINUE_FORBIDDEN))
        if match not in (EXACT, NOT_OLDER_THAN):
            supported = f'"{EXACT}", "{NOT_OLDER_THAN}", ""'
            causes.append((_MATCH, f'Unsupported value: "{match}": supported values: {supported}'))
        if match == EXACT and options.resource_version == "0":
            forbidden = 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
            causes.append((_MATCH, f"Forbidden: {forbidden}"))
    if options.send_initial_events is not None:
        causes.append(("sendInitialEvents", "Forbidden: sendInitialEvents is forbidden for list"))
    return causes


def _watch_causes(options: ListOptions) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    match = options.match
    if options.send_initial_events is not None and match != NOT_OLDER_THAN:
        forbidden = f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"
        causes.append((_MATCH, f"Forbidden: {forbidden}"))
    if match:
        if options.send_initial_events is None:
            forbidden = "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
            causes.append((_MATCH, f"Forbidden: {forbidden}"))
        if match != NOT_OLDER_THAN:
            causes.append((_MATCH, f'Unsupported value: "{match}": supported values: "{NOT_OLDER_THAN}"'))
        if options.continue_token:
            causes.append((_MATCH, _CONTINUE_FORBIDDEN))
    return causes


def too_large_resource_version(requested: int, current: int) -> StatusError:
    """504 Timeout, as storage.NewTooLargeResourceVersionError words it; a Retry-After header goes with
    it, as with every Status that suggests a retry."""
    return StatusError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {requested}, current: {current}",
        details={
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": TOO_LARGE_RETRY_SECONDS,
        },
        headers={"Retry-After": str(TOO_LARGE_RETRY_SECONDS)},
    )
