"""Studies: many runs over one project's finished outputs: sweeps over m and k (Figure 5) and the layer
ablation (Table 5), whose variants are child projects sharing the base model."""
