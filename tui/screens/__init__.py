"""Screens of the kubedrift TUI, one per module."""
