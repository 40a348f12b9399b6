"""A form for config sections, built from the dataclasses' fields: the same help, choices and limits
as project.toml. Values are checked by the core's validation; its message appears under the form."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import ConfigError
from ..core.settings import config as C
from .wheel import guard_wheel

MODIFIED_STYLE = "color: #1565c0; font-weight: bold;"
LIST_MAX_WIDTH = 340  # px: the widest a list field grows to show its items


class _Field:
    """One editor widget with typed get/set."""

    def __init__(self, section: str, f):
        self.section, self.name, self.meta = section, f.name, f.metadata
        self.kind = f.type if isinstance(f.type, str) else f.type.__name__
        choices = self.meta.get("choices")
        if choices:
            self.widget = QComboBox()
            self.widget.addItems(list(choices))
        elif self.kind == "bool":
            self.widget = QCheckBox()
        elif self.kind == "int":
            self.widget = QSpinBox()
            self.widget.setRange(int(self.meta.get("min") or 0), int(self.meta.get("max") or 2_000_000_000))
            self.widget.setGroupSeparatorShown(True)
        else:  # floats (1e-4 and 0.1 alike), text, lists, "epoch"-or-number
            self.widget = QLineEdit()
        self.widget.setObjectName(f"{section}.{f.name}")
        self.widget.setToolTip(self.meta.get("help", ""))

    def set(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QComboBox):
            w.setCurrentText(str(value))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value)
            w.setText(text)
            w.setCursorPosition(0)
            # A list is read whole: wide enough for it (up to a limit; the tooltip holds the rest).
            w.setMinimumWidth(min(LIST_MAX_WIDTH, w.fontMetrics().horizontalAdvance(text + "  ") + 16))
            w.setToolTip(f"{self.meta.get('help', '')}\n{text}".strip())
        else:
            w.setText(repr(value) if isinstance(value, float) else str(value))  # repr: reads back exactly

    def get(self) -> Any:
        w = self.widget
        if isinstance(w, QComboBox):
            return w.currentText()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            return w.value()
        text = w.text().strip()
        where = f"[{self.section}] {self.name}"
        if self.kind == "float":
            try:
                return float(text)
            except ValueError:
                raise ConfigError(f"{where} = {text!r}: expected a number") from None
        if self.kind == "list":
            items = [t.strip().strip("'\"") for t in text.split(",") if t.strip()]
            if self.meta.get("items") is int:
                try:
                    return [int(t) for t in items]
                except ValueError:
                    raise ConfigError(f"{where} = {text!r}: expected whole numbers separated by commas") from None
            return items
        if self.kind in ("Any",):  # save_every: "epoch" or a number of iterations
            return int(text) if text.isdigit() else text
        return text

    def changed_signal(self):
        w = self.widget
        if isinstance(w, QComboBox):
            return w.currentTextChanged
        if isinstance(w, QCheckBox):
            return w.toggled
        if isinstance(w, QSpinBox):
            return w.valueChanged
        return w.textEdited


class SettingsForm(QWidget):
    """Editors for the given config sections; `config()` returns a validated copy or raises ConfigError."""

    edited = Signal()

    def __init__(self, sections: list[str], parent: QWidget | None = None, hide: tuple[str, ...] = ()):
        super().__init__(parent)
        self.sections = sections
        self.fields: dict[tuple[str, str], _Field] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for section in sections:
            box = QGroupBox(f"[{section}]")
            form = QFormLayout(box)
            for f in fields(C.SECTIONS[section]):
                if f"{section}.{f.name}" in hide:
                    continue
                fld = _Field(section, f)
                self.fields[(section, f.name)] = fld
                fld.label = QLabel(f.name)
                fld.label.setObjectName(f"label:{section}.{f.name}")
                fld.label.setToolTip(f.metadata.get("help", ""))
                form.addRow(fld.label, fld.widget)
                fld.changed_signal().connect(self._field_edited)
            lay.addWidget(box)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        lay.addWidget(self.error)
        lay.addStretch(1)
        self._base = C.ProjectConfig()
        guard_wheel(self)

    def modified(self) -> list[str]:
        """`section.name` of every field whose value differs from the config last set (not yet applied)."""
        out = []
        for (section, name), fld in self.fields.items():
            try:
                same = fld.get() == getattr(self._base.section(section), name)
            except ConfigError:
                same = False
            if not same:
                out.append(f"{section}.{name}")
        return out

    def _mark_modified(self) -> None:
        changed = set(self.modified())
        for (section, name), fld in self.fields.items():
            on = f"{section}.{name}" in changed
            fld.label.setText(f"{name} •" if on else name)
            fld.label.setStyleSheet(MODIFIED_STYLE if on else "")

    @Slot()
    def _field_edited(self) -> None:
        self._mark_modified()
        self.edited.emit()

    def set_config(self, cfg: C.ProjectConfig) -> None:
        self._base = cfg.copy()
        for (section, name), fld in self.fields.items():
            fld.set(getattr(cfg.section(section), name))
        self.error.clear()
        self._mark_modified()

    def set_base(self, cfg: C.ProjectConfig) -> None:
        """The config the fields are compared with (after another form applied its edits), keeping edits."""
        self._base = cfg.copy()
        self._mark_modified()

    def widget(self, section: str, name: str) -> QWidget:
        return self.fields[(section, name)].widget

    def config(self) -> C.ProjectConfig:
        """The config with this form's values, validated; a ConfigError is also shown in the form."""
        try:
            values = [(s, n, fld.get()) for (s, n), fld in self.fields.items()]
            cfg = C.with_values(self._base, values)
        except ConfigError as e:
            self.error.setText(str(e))
            raise
        self.error.clear()
        return cfg
