"""The installed Qt binding must not leak or over-release references: a refcount bug crashes long sessions."""

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    value = Signal(float)
    nothing = Signal()


def test_signal_emit_keeps_the_reference_count_of_true(qapp):
    """PySide6 6.12.0 returns True from emit() without a reference: every emit releases one, and after a
    few thousand emits Python aborts ("bool_dealloc"). pyproject.toml excludes that version."""
    e = _Emitter()
    e.value.connect(e.nothing)
    before = sys.getrefcount(True)
    for _ in range(200):
        e.value.emit(1.0)
        e.nothing.emit()
    assert sys.getrefcount(True) - before > -50
