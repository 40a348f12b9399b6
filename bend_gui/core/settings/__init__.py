"""Settings: what a project's `project.toml` may hold (one dataclass per stage, with help, choices and limits),
its validation, the presets (BEND paper, p-diff v3, CPU demo) and the project templates shipped in
`project_templates/`. The bottom layer: it knows no tensors and no project folder."""
