"""The drift family: what a sync would change, field by field (DESIGN "Drift rules").

- `comparator`: `diff(desired, live, rules)`, the one engine that decides and explains.
- `compiled`: the in-sync fast path, generated per desired shape; it must agree with `comparator`.
- `rules`: what the comparator knows per object (ignored paths, list keys, quantities).
- `managedfields`: reading `metadata.managedFields` tries (who owns which field).
- `shared_fields`: hash-consing of managedFields tries across the live cache.
- `quantity`: resource quantities compared by value.
- `text`: the diff as text a person reads.
- `object_compare`: whole-object comparison (revision to revision, dry-run answers), by DeepDiff.
"""
