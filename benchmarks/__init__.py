"""kubedrift's performance harness: run `python -m benchmarks [--quick] [--json PATH]` from the repo root."""
