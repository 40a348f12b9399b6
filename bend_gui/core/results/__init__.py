"""Results: the ensemble rules (sBEND, aBEND, soft vote), the metrics (Table 3, IoU and diversity,
calibration, efficiency), what the report and the views show and when (readiness, verdicts), the exports of
results and the `.pt` ensemble bundle (`bundle` loads anywhere: it needs no project code;
`bundle_export` writes one from a project)."""
