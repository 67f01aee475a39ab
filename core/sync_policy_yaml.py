"""Reading `syncPolicy.syncOptions`, `syncPolicy.retry` and `syncPolicy.managedNamespaceMetadata` from YAML.

kubedrift.yaml is read strictly and an Argo CD Application leniently (`core.argocd_apps`), but an
unknown sync option is an error in both: Argo CD ignores one silently, and the sync then does not
do what its author meant. Each mistake names its file, line and field (`core.config_yaml`).
"""

from __future__ import annotations

from core.config_yaml import YamlField, describe_value
from core.sync_options import (
    NO_SYNC_OPTIONS,
    ManagedNamespaceMetadata,
    OptionScope,
    RetryPolicy,
    SyncOptionError,
    SyncOptions,
    parse_duration,
    parse_sync_options,
)

SYNC_POLICY_EXTRA_KEYS = ("syncOptions", "retry", "managedNamespaceMetadata")
_RETRY_KEYS = ("limit", "backoff")
_BACKOFF_KEYS = ("duration", "factor", "maxDuration")
_NAMESPACE_METADATA_KEYS = ("labels", "annotations")


def read_sync_options(sync_policy: YamlField) -> SyncOptions:
    """`syncOptions`: Argo CD's names (`CreateNamespace=true`...); an unknown one is an error."""
    options = sync_policy.optional("syncOptions")
    if options is None:
        return NO_SYNC_OPTIONS
    parsed = NO_SYNC_OPTIONS
    for item in options.items():
        try:
            parsed = parsed.overridden_by(parse_sync_options([item.string()], scope=OptionScope.APP))
        except SyncOptionError as error:
            raise item.fail(str(error)) from None
    return parsed


def read_retry(sync_policy: YamlField, *, strict: bool) -> RetryPolicy | None:
    """`retry: {limit, backoff: {duration, factor, maxDuration}}`, with Argo CD's defaults for what
    it omits."""
    retry = sync_policy.optional("retry")
    if retry is None:
        return None
    if strict and retry.mapping().optional("refresh") is not None:
        raise retry.required("refresh").fail(
            "retry.refresh is not supported: kubedrift retries the revision the sync started with"
        )
    retry.mapping(_RETRY_KEYS if strict else None)
    policy = RetryPolicy(limit=_integer(retry.optional("limit"), default=0))
    backoff = retry.optional("backoff")
    if backoff is None:
        return policy
    backoff.mapping(_BACKOFF_KEYS if strict else None)
    factor = _integer(backoff.optional("factor"), default=policy.factor)
    if factor < 1:
        raise backoff.required("factor").fail(f"expected a factor of 1 or more, got {factor}")
    return RetryPolicy(
        limit=policy.limit,
        duration=_duration(backoff.optional("duration"), default=policy.duration),
        factor=factor,
        max_duration=_duration(backoff.optional("maxDuration"), default=policy.max_duration),
    )


def read_managed_namespace_metadata(
    sync_policy: YamlField, options: SyncOptions, *, strict: bool
) -> ManagedNamespaceMetadata | None:
    """`managedNamespaceMetadata: {labels, annotations}` for the namespace `CreateNamespace=true` creates."""
    metadata = sync_policy.optional("managedNamespaceMetadata")
    if metadata is None:
        return None
    metadata.mapping(_NAMESPACE_METADATA_KEYS if strict else None)
    if strict and not options.create_namespace:
        raise metadata.fail(
            "managedNamespaceMetadata is used only with CreateNamespace=true; add it to syncOptions"
        )
    return ManagedNamespaceMetadata(
        labels=_string_map(metadata.optional("labels")),
        annotations=_string_map(metadata.optional("annotations")),
    )


def _integer(value: YamlField | None, *, default: int) -> int:
    if value is None:
        return default
    if isinstance(value.value, int) and not isinstance(value.value, bool):
        return value.value
    raise value.fail(f"expected a whole number, got {describe_value(value.value)}")


def _duration(value: YamlField | None, *, default: float) -> float:
    if value is None:
        return default
    if isinstance(value.value, bool) or not isinstance(value.value, (str, int)):
        raise value.fail(f"expected a duration such as 5s or 2m, got {describe_value(value.value)}")
    try:
        return parse_duration(str(value.value))
    except ValueError as error:
        raise value.fail(str(error)) from None


def _string_map(value: YamlField | None) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    return tuple((str(name), entry.string(allow_empty=True)) for name, entry in value.entries())
