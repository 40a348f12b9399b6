"""A form for config sections, built from the dataclasses' fields: the same help, choices and limits
as project.toml. Values are checked by the core's validation; its message appears under the form."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QSpinBox,
                               QVBoxLayout, QWidget)

from ..core import config as C
from ..core.errors import ConfigError


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
            w.setText(", ".join(str(v) for v in value))
        else:
            w.setText(f"{value:g}" if isinstance(value, float) else str(value))

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
                label = QLabel(f.name)
                label.setToolTip(f.metadata.get("help", ""))
                form.addRow(label, fld.widget)
                fld.changed_signal().connect(self.edited)
            lay.addWidget(box)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        lay.addWidget(self.error)
        lay.addStretch(1)
        self._base = C.ProjectConfig()

    def set_config(self, cfg: C.ProjectConfig) -> None:
        self._base = cfg.copy()
        for (section, name), fld in self.fields.items():
            fld.set(getattr(cfg.section(section), name))
        self.error.clear()

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
