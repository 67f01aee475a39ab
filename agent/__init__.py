"""`kubedrift agent`: the engine as a long-running service, with an HTTP API and Prometheus metrics.

- agent.service: builds the engine (read-only unless kubedrift.yaml's `agent: {allowWrites: true}`),
  runs it, and turns what it publishes into the stream, the metrics and readiness.
- agent.server: the aiohttp application: routes, bearer-token auth, TLS.
- agent.stream: the sequence-numbered, retained stream of `watch -o jsonl` lines.
- agent.resources: one resource's document (live, desired, diff) with Secret values masked.
- agent.actions: sync, refresh and policy requests, through the same code the TUI uses.
- agent.metrics: the `kubedrift_*` Prometheus metrics.

`core/` stays free of HTTP servers (DESIGN "Layout"); this package is where the server lives.
"""
