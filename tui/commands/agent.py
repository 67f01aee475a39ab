"""`kubedrift agent`: the engine as a long-running service, with metrics and an HTTP API (agent/).

```
kubedrift agent [--config F] [--kubeconfig F] [--context C] [--listen HOST:PORT] [--token-file F]
                [--insecure-no-auth] [--tls-cert F --tls-key F] [--shard I/N]
                [--lease-namespace NS] [--lease-context C] [--identity NAME]
```
Read-only unless kubedrift.yaml says `agent: {allowWrites: true}` (`--read-only` keeps it read-only
even then). Startup problems are one `kubedrift: ...` sentence and exit 2; SIGTERM and SIGINT stop
it with exit 0. The agent package is imported only here, when the command runs: the rest of the
command line never loads aiohttp.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from tui.commands.setup import add_cluster_options, load_settings


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "agent", help="run the engine as a service: Prometheus metrics and an HTTP API (read-only by default)"
    )
    add_cluster_options(parser)
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default="0.0.0.0:8080",
        help="address to serve on (default 0.0.0.0:8080)",
    )
    parser.add_argument(
        "--token-file", metavar="FILE", type=Path, help="file holding the bearer token that /api/ requires"
    )
    parser.add_argument(
        "--insecure-no-auth", action="store_true", help="serve /api/ without a token (tests, local use)"
    )
    parser.add_argument("--tls-cert", metavar="FILE", type=Path, help="PEM certificate: serve HTTPS")
    parser.add_argument("--tls-key", metavar="FILE", type=Path, help="PEM private key of --tls-cert")
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="this agent's shard (default: $KUBEDRIFT_SHARDS and the StatefulSet ordinal in $HOSTNAME)",
    )
    parser.add_argument("--lease-namespace", metavar="NS", help="namespace of the per-app Leases")
    parser.add_argument("--lease-context", metavar="NAME", help="kubeconfig context of the Leases' cluster")
    parser.add_argument("--identity", metavar="NAME", help="this agent's name (default: $HOSTNAME)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from agent.options import AgentOptions, default_identity, default_lease_namespace, parse_listen
    from agent.service import serve
    from core.sharding import parse_shard, shard_from_environment

    listen = parse_listen(args.listen)
    shard = parse_shard(args.shard) if args.shard is not None else shard_from_environment(os.environ)
    config = load_settings(args)
    if not config.apps:  # a config of `agents:` alone is for `kubedrift attach`, which reads agents
        raise ConfigError(
            f"{config.path}: an agent needs apps to watch, and this kubedrift.yaml lists only agents: "
            "give the agent a config with apps:"
        )
    options = AgentOptions(
        listen=listen,
        identity=args.identity or default_identity(os.environ),
        token_file=args.token_file,
        insecure_no_auth=args.insecure_no_auth,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        shard=shard,
        lease_namespace=args.lease_namespace or default_lease_namespace(config.agent.lease_namespace),
        lease_context=args.lease_context,
    )
    return serve(
        config,
        options,
        kubeconfig=getattr(args, "kubeconfig", None),
        context=getattr(args, "context", None),
        force_read_only=bool(getattr(args, "read_only", False)),
    )
