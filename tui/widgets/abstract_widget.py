"""A metaclass for widget base classes with abstract methods.

Textual's widgets have a metaclass of their own, which does not mix with `abc.ABC` as a base; one
derived from both lets a widget base class declare `@abstractmethod`s that Python enforces: a
subclass that leaves one out cannot be built.
"""

from __future__ import annotations

from abc import ABCMeta

from textual.message_pump import _MessagePumpMeta


class AbstractWidgetMeta(_MessagePumpMeta, ABCMeta):
    """Textual's widget metaclass, with ABCMeta's abstract-method checks."""
