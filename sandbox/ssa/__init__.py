"""Server-side apply internals, after sigs.k8s.io/structured-merge-diff and the API server's field
manager: field sets (fieldset), schema-aware walks over objects (typed), the apply and update
algorithms (updater) and the managedFields entries around them (managers). The public surface is
sandbox.managedfields."""
