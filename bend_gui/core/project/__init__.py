"""The project folder: `folder.Project` (project.toml, the manifest of stage states and fingerprints, the
lock) and `artifacts`, the one place that names every file a stage leaves and reads and writes it. Also the
user's own folders (recent projects, the demo). The only layer that touches a project's files."""
