"""A study's grid: settings keys with the values to try, times seeds, checked against the settings schema.

A grid key is `section.key` of project.toml. What a point recomputes is decided by the earliest stage the
grid's keys feed (their section's stage): [generate] and [evaluate] keys only sample and evaluate with the
project's trained generator; [autoencoder] and [diffusion] keys (and collect.k alone) retrain the generator
on the project's snapshots; other [collect] keys and [subset] layers recollect the snapshots from the
project's base network, then train the generator. Earlier sections change the network itself, which a
point does not retrain: such a key is refused with what to do instead.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field, fields

from ..errors import ConfigError
from ..pipeline import preflight
from ..settings import config as C

# Which part of the pipeline a point reruns, by the section of its keys (ordered earliest first).
LEVELS = ("collect", "generator", "generate")
SECTION_LEVEL = {"subset": "collect", "collect": "collect", "autoencoder": "generator", "diffusion": "generator",
                 "generate": "generate", "evaluate": "generate"}
# collect.k alone needs no recollection: a point trains the generator on k of the project's snapshots (the
# first k of a seeded permutation, as the k-sweep of Figure 5a does). With another [collect] key the point
# recollects, and then collects k snapshots itself.
KEY_LEVEL = {"collect.k": "generator"}
# Keys a grid may not hold: the seeds are the study's own axis.
SEED_KEYS = {"generate.seed": "the seed of each point is --seeds", "run.seed": "the seed of each point is --seeds"}
REFUSED_SECTIONS = {
    "model": "it changes the network: make a project per value",
    "data": "it changes the data: make a project per value",
    "base": "it retrains the base network: make a project per value",
    "run": "[run] keys change where and how fast a point runs, not its result",
}


@dataclass(frozen=True)
class Point:
    values: tuple[tuple[str, object], ...]   # (key, value) in the grid's key order
    seed: int

    @property
    def key(self) -> str:
        """A stable id: the same values and seed give the same file name in every run of the study."""
        text = json.dumps([list(self.values), self.seed], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return ", ".join(f"{k} = {v}" for k, v in self.values) + f", seed {self.seed}"

    def as_dict(self) -> dict:
        return dict(self.values)


@dataclass
class Grid:
    keys: dict[str, list] = field(default_factory=dict)   # key → values, in the order given
    seeds: list[int] = field(default_factory=lambda: [0])

    @property
    def level(self) -> str:
        """The earliest part of the pipeline any key feeds (what every point of the study reruns)."""
        levels = {KEY_LEVEL.get(k) or SECTION_LEVEL[k.split(".", 1)[0]] for k in self.keys} or {"generate"}
        return next(lv for lv in LEVELS if lv in levels)

    def points(self) -> list[Point]:
        """Every combination, seed slowest: the first seed's whole grid comes first."""
        names = list(self.keys)
        out = []
        for seed in self.seeds:
            for combo in itertools.product(*(self.keys[k] for k in names)):
                out.append(Point(tuple(zip(names, combo)), seed))
        return out

    def to_dict(self) -> dict:
        return {"keys": {k: list(v) for k, v in self.keys.items()}, "seeds": list(self.seeds)}

    @classmethod
    def from_dict(cls, d: dict) -> Grid:
        return cls({k: list(v) for k, v in d["keys"].items()}, [int(s) for s in d["seeds"]])


def parse_grid_arg(text: str) -> tuple[str, list]:
    """`section.key=v1,v2` (as --grid takes it) → (key, [v1, v2]); values read as TOML, else as text. A
    list key's value is a TOML array or names joined by '+': `subset.layers=fc,bn3+bn4,["bn4"]`."""
    if "=" not in text:
        raise ConfigError(f"--grid {text!r}: write section.key=v1,v2, e.g. generate.m=5,10,20")
    key, raw = (s.strip() for s in text.split("=", 1))
    values = []
    for part in _split_values(raw):
        if part.strip():
            values.append(C.parse_assignment(f"{key}={part.strip()}")[2] if "." in key else part.strip())
    return key, values


def _split_values(raw: str) -> list[str]:
    """`raw` split at the commas outside brackets and quotes (a TOML array is one value)."""
    parts, depth, quote, cur = [], 0, "", ""
    for ch in raw:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth <= 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    return parts + [cur]


def _list_value(key: str, value):
    """A list key's value as a list: 'bn3+bn4' (or 'bn3 bn4') → ['bn3', 'bn4']; other keys' unchanged."""
    section, name = key.split(".", 1)
    if not isinstance(value, str) or not isinstance(getattr(C.SECTIONS[section](), name), list):
        return value
    return [p for p in value.replace("+", " ").replace(",", " ").split() if p]


def parse_seeds(text) -> list[int]:
    out = []
    for part in str(text).replace(" ", ",").split(","):
        if not part.strip():
            continue
        try:
            s = int(part)
        except ValueError:
            raise ConfigError(f"--seeds: {part.strip()!r} is not a whole number") from None
        if s < 0:
            raise ConfigError(f"--seeds: {s} is below 0")
        if s not in out:
            out.append(s)
    if not out:
        raise ConfigError("--seeds: give at least one seed, e.g. 0,1,2")
    return out


def check_key(key: str) -> None:
    if "." not in key:
        raise ConfigError(f"grid key {key!r}: write section.key, e.g. generate.m")
    section, name = key.split(".", 1)
    if section not in C.SECTIONS:
        raise ConfigError(f"grid key {key!r}: unknown section {section!r}; known sections: {', '.join(C.SECTIONS)}")
    known = {f.name for f in fields(C.SECTIONS[section])}
    if name not in known:
        raise ConfigError(f"grid key {key!r}: unknown key; [{section}] has {', '.join(sorted(known))}")
    if key in SEED_KEYS:
        raise ConfigError(f"grid key {key!r}: {SEED_KEYS[key]}")
    if section in REFUSED_SECTIONS and key not in KEY_LEVEL:
        raise ConfigError(f"grid key {key!r}: a study cannot sweep [{section}]: {REFUSED_SECTIONS[section]}")


def make_grid(base: C.ProjectConfig, keys: dict[str, list], seeds) -> Grid:
    """A checked grid: known keys, values the schema accepts (stored as the schema reads them, so 0 and
    0.0 of a float key are one value), no duplicates, at least one value each."""
    out: dict[str, list] = {}
    seeds = parse_seeds(",".join(str(s) for s in seeds))
    for key, values in keys.items():
        check_key(key)
        section, name = key.split(".", 1)
        uniq = []
        for v in values:
            v = _list_value(key, v)
            try:
                cfg = point_config(base, Point(((key, v),), seeds[0]))
                if section == "subset":  # every pattern must name layers of the project's network
                    preflight.check(cfg, need_data=False)
            except ConfigError as e:
                raise ConfigError(f"--grid {key}={_text(v)}: {e}") from None
            v = getattr(cfg.section(section), name)
            if v not in uniq:
                uniq.append(v)
        if not uniq:
            raise ConfigError(f"grid key {key!r}: give at least one value")
        out[key] = uniq
    return Grid(out, seeds)


def _text(value) -> str:
    return "+".join(map(str, value)) if isinstance(value, list) else repr(value)


def point_config(base: C.ProjectConfig, point: Point) -> C.ProjectConfig:
    """The project's settings with the point's values and seed (run.seed = generate.seed = the point's seed:
    the seed the pipeline would use for a project run with `[run] seed` = that seed), validated; a value
    the schema refuses gives a ConfigError naming the key."""
    assignments = [(*k.split(".", 1), v) for k, v in point.values]
    return C.with_values(base, assignments + [("run", "seed", point.seed), ("generate", "seed", point.seed)])
