"""`agent:` in kubedrift.yaml: what `kubedrift agent` may do, read once with the rest of the config.

```yaml
agent:
  allowWrites: false        # default: the agent only watches and reports
  leaseNamespace: kubedrift # where the per-app Leases live (default: the pod's namespace)
```

Read-only is the default, as DESIGN says: an agent runs unattended, so letting it write (sync
requests over its API, auto-sync, self-heal, rollback) is a decision written in the file, never a
command-line flag someone adds in passing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from core.config_yaml import YamlField

_AGENT_KEYS: Final = ("allowWrites", "leaseNamespace")
# A namespace name is a DNS-1123 label (Kubernetes' validation.IsDNS1123Label).
_DNS_1123_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1123_LABEL_MAX: Final = 63


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """The `agent:` section; its defaults are an agent that writes nothing."""

    allow_writes: bool = False
    """Sync requests, auto-sync, self-heal and rollback; False builds the engine read-only."""
    lease_namespace: str | None = None
    """Where the per-app Leases live; None: the pod's namespace, else `kubedrift`."""


NO_AGENT_SETTINGS: Final = AgentSettings()


def read_agent_settings(section: YamlField | None) -> AgentSettings:
    """`agent:` as settings; a mistake is one ConfigError naming the file, line and field."""
    if section is None:
        return NO_AGENT_SETTINGS
    section.mapping(_AGENT_KEYS)
    namespace_field = section.optional("leaseNamespace")
    namespace = None
    if namespace_field is not None:
        namespace = namespace_field.string()
        if len(namespace) > _DNS_1123_LABEL_MAX or not _DNS_1123_LABEL.fullmatch(namespace):
            raise namespace_field.fail(
                f"{namespace!r} is not a namespace name: use at most {_DNS_1123_LABEL_MAX} lower-case "
                "letters, digits and '-', starting and ending with a letter or digit"
            )
    return AgentSettings(
        allow_writes=section.optional_boolean("allowWrites", default=False), lease_namespace=namespace
    )
