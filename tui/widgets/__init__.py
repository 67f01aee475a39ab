"""Widgets of the kubedrift TUI, one per module, each with its DEFAULT_CSS beside it."""
