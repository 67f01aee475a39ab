"""The drift family: what a sync would change, field by field (DESIGN "Drift rules").

- `comparator`: `diff(desired, live, rules)`, the one engine that decides and explains.
- `compiled`: the in-sync fast path, generated per desired shape; it must agree with `comparator`.
- `rules`: what the comparator knows per object: its kind's schema, ignored paths, never-compared
  metadata.
- `schema_source`: where a kind's schema comes from: the official definitions of a Kubernetes
  version, and the app's CRDs on top; `cluster_schema`: the cluster's own /openapi/v3 before them.
- `keys`: list keys and element identity read from the schema.
- `normalise`: the rules that make two spellings of one value equal (empty, null, zero values).
- `secret_data`: Secret `stringData` compared as `data`, base64 however it is wrapped.
- `last_applied`: fields `kubectl apply` last applied that Git dropped.
- `redefault`: what the server's defaulting puts back after a sync removes a field Git dropped.
- `managedfields`: reading `metadata.managedFields` tries (who owns which field).
- `shared_fields`: hash-consing of managedFields tries across the live cache.
- `quantity`: resource quantities compared by value.
- `text` and `yaml_text`: the diff as text a person reads, multi-line values line by line.
- `object_compare`: whole-object comparison (revision to revision, dry-run answers), by DeepDiff.
"""
