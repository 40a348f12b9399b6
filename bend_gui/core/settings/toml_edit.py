"""Saving settings into an existing `project.toml` without losing what its user wrote there.

The README invites editing the file by hand, so a save from the app or `bend --set` changes only the
values that differ, in place (tomlkit keeps comments, blank lines, key order and number formats). A key
the file leaves out means its default; it is added (with its help as the comment) only when the new value
is not that default, so a short hand-written file stays short. A file that
is not TOML any more is written afresh (`dumps`), as before.
"""

from __future__ import annotations

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .config import ProjectConfig, dumps, field_help, to_dict


def _new_item(section: str, key: str, value):
    item = tomlkit.item(value)
    if section:
        item.comment(field_help(section, key)["help"])
    return item


def update_text(text: str, cfg: ProjectConfig) -> str:
    """`text` (the current project.toml) with `cfg`'s values; everything else in it kept."""
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError:
        return dumps(cfg)
    cfg.validate()
    new, defaults = to_dict(cfg), to_dict(ProjectConfig())
    for key, value in new.items():
        if isinstance(value, dict):
            changes = {k: v for k, v in value.items() if v != _plain(doc.get(key, {}).get(k, defaults[key][k]))}
            if not changes:
                continue
            table = doc.get(key)
            if not isinstance(table, dict):
                table = tomlkit.table()
                doc.add(key, table)
            for k, v in changes.items():
                if k in table:
                    table[k] = v  # tomlkit keeps the item's trailing comment
                else:
                    table.add(k, _new_item(key, k, v))
        elif value != _plain(doc.get(key, defaults[key])):
            doc[key] = value  # tomlkit puts a new plain key before the first table, where TOML needs it
    return tomlkit.dumps(doc)


def _plain(item):
    """A tomlkit item as plain Python, to compare with the config's value."""
    return item.unwrap() if hasattr(item, "unwrap") else item
