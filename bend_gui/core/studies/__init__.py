"""Studies: many runs over one project's finished outputs. A study (study.py) is a grid over any settings
keys times seeds, each point computed from shipped inputs (point.py) here or on a Ray cluster
(executors.py, ray_executor.py) and saved in studies/<name>/ (store.py); the sweeps over m and k
(Figure 5, sweeps.py) are the studies named m and k; the layer ablation (Table 5, ablation.py) is the study
named ablation over subset.layers."""
