"""ML machinery: backbones (torchvision and the small CNN), datasets, the parameter subset (which modules,
get/set its flat vector, the split into a frozen prefix and a per-member tail), cached features of the
frozen prefix, member evaluation, training helpers and the device. Knows nothing of projects or p-diff."""
