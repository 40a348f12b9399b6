"""Every file a stage leaves in a project, named once, with its one way to read and write it.

Other layers never spell a file name or build a path into a project folder: they ask an artifact here.
Tensors go through `fileio.save_tensors` / `load_tensors` (atomic, weights-only); JSON and CSV through
the strict writers. An artifact knows its stage's folder, so renaming a file or a folder is one edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ProjectError
from ..fileio import load_tensors, looks_like_torch_zip, read_csv, read_json, save_tensors, write_csv, write_json

if TYPE_CHECKING:  # folder.py imports this module (for STAGE_OUTPUTS), which must stay light
    import torch

    from ..pdiff.autoencoder import ParamAutoencoder
    from ..pdiff.normalize import Normalizer
    from ..pdiff.sampling import DiffusionGenerator
    from .folder import Project


@dataclass(frozen=True)
class Artifact:
    stage: str   # whose folder it lies in (Project.dir maps evaluate to results/)
    name: str    # its file name
    keys: tuple[str, ...] = ()  # what a reader needs in it: a file without them is refused by name

    def path(self, project: Project) -> Path:
        return project.dir(self.stage) / self.name

    def exists(self, project: Project) -> bool:
        return self.path(project).is_file()

    def problem(self, project: Project) -> str:
        """Why the file is not a whole one ('' when it looks whole): missing, empty, or (for tensors) not a
        complete zip archive. A few bytes are read, never the file, so status stays cheap."""
        p = self.path(project)
        where = f"its output {p.parent.name}/{p.name}"
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            return f"{where} is missing"
        if size == 0:
            return f"{where} is empty (0 bytes)"
        if p.suffix == ".pt" and not looks_like_torch_zip(p):
            return f"{where} is truncated or damaged"
        return ""

    def load(self, project: Project) -> Any:
        p = self.path(project)
        if p.suffix == ".pt":
            value = load_tensors(p)
        elif p.suffix == ".json":
            value = read_json(p)
        else:
            return read_csv(p)  # (columns, rows)
        missing = [k for k in self.keys if not isinstance(value, dict) or k not in value]
        if missing:
            raise ProjectError(f"{p}: not the output of the {self.stage} stage (it lacks {', '.join(missing)}); "
                               f"rerun that stage (bend run --force {self.stage})")
        return value

    def save(self, project: Project, value: Any) -> None:
        if self.name.endswith(".pt"):
            save_tensors(self.path(project), value)
        else:
            write_json(self.path(project), value)

    def save_rows(self, project: Project, columns: list[str], rows: list[dict]) -> None:
        write_csv(self.path(project), columns, rows)


# state dict + backbone spec, normalisation, classes; per epoch: losses, accuracies, learning rate, seconds
BASE_MODEL = Artifact("base", "model.pt", ("backbone", "in_channels", "num_classes", "state_dict"))
BASE_CURVE = Artifact("base", "curve.csv")
# k × d snapshots and the subset's names and shapes; per snapshot: iteration, epoch, test accuracy
SNAPSHOTS = Artifact("collect", "snapshots.pt", ("subset", "snapshots"))
SNAPSHOTS_CSV = Artifact("collect", "snapshots.csv")
# encoder/decoder weights, spec and normaliser; the denoiser's EMA weights, schedule and latent scaling
AUTOENCODER = Artifact("autoencoder", "model.pt", ("spec", "state_dict", "normalizer"))
DIFFUSION = Artifact("diffusion", "model.pt", ("spec", "ema_state_dict", "schedule", "latent_mean", "latent_std"))
# m × d generated members and the baselines'
MEMBERS = Artifact("generate", "members.pt", ("members", "generator"))
# Table 3, baselines, diversity, calibration, efficiency; every member's predictions; IoU of errors
METRICS = Artifact("evaluate", "metrics.json", ("sbend",))
PREDICTIONS = Artifact("evaluate", "predictions.pt", ("y", "preds"))
IOU = Artifact("evaluate", "iou.pt", ("matrix", "generated", "original"))
MEMBERS_CSV = Artifact("evaluate", "members.csv")

# Folders of the studies over a project's finished outputs (their own files are named in core/studies).
STUDY_FOLDERS = {"sweeps": "sweeps", "ablation": "ablation", "studies": "studies", "frontier": "frontier"}


def study_dir(project: Project, study: str) -> Path:
    return project.root / STUDY_FOLDERS[study]


# What each stage's successors read: a stage marked done without it is not done.
STAGE_OUTPUTS = {"base": BASE_MODEL, "collect": SNAPSHOTS, "autoencoder": AUTOENCODER, "diffusion": DIFFUSION,
                 "generate": MEMBERS, "evaluate": METRICS}
RESULT_FILES = (METRICS, MEMBERS_CSV, IOU, PREDICTIONS)


def snapshot_matrix(project: Project) -> torch.Tensor:
    """The k × d snapshots as float32."""
    return SNAPSHOTS.load(project)["snapshots"].float()


def load_autoencoder(project: Project, device: torch.device) -> tuple[ParamAutoencoder, Normalizer]:
    from ..pdiff.sampling import autoencoder_from_saved

    return autoencoder_from_saved(AUTOENCODER.load(project), device)


def load_generator(project: Project, device: torch.device) -> DiffusionGenerator:
    """The trained p-diff generator of the project's autoencoder and diffusion stages."""
    from ..pdiff.sampling import DiffusionGenerator

    return DiffusionGenerator.from_saved(AUTOENCODER.load(project), DIFFUSION.load(project), device)
