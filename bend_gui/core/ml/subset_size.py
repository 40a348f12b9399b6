"""What the paper's Table 5 (ResNet-50 on CIFAR-10) says about a subset of d numbers: pairs of BatchNorm
layers (2,560-5,120 numbers) kept the original accuracy; `fc` (20,490) lost ~5 points under aBEND;
`layer3.5.conv3.weight` (262,144) lost 10 points. The wizard and the ablation page both warn from here."""

from __future__ import annotations

CAUTION_D = 10_000
STRONG_D = 100_000
PAPER_K = 200  # the paper's snapshot count: what a subset of d numbers costs on disk at that k


def size_level(d: int) -> str:
    """empty (nothing chosen), fine, caution or strong: how far d is past the subsets that worked."""
    if d <= 0:
        return "empty"
    if d <= CAUTION_D:
        return "fine"
    return "caution" if d <= STRONG_D else "strong"


def snapshot_megabytes(d: int, k: int = PAPER_K) -> float:
    """k float32 snapshots of d numbers, in MB."""
    return k * d * 4 / 1e6


def size_advice(d: int) -> tuple[str, str, str]:
    """(level, headline, text) for choosing a subset: the paper's evidence for a subset of this size.
    The headline ("Caution:", "Strong warning:") is empty where there is nothing to warn about."""
    level = size_level(d)
    if level == "empty":
        return level, "", "Check at least one module: the subset is what BEND snapshots and generates."
    if level == "fine":
        return level, "", ("Small enough: in the paper's Table 5, subsets of up to 5,120 numbers (pairs of "
                           "BatchNorm layers, 2,560–5,120) kept the original accuracy (e.g. 94.32 % sBEND vs "
                           "94.28 %).")
    mb = snapshot_megabytes(d)
    if level == "caution":
        return level, "Caution:", (f"d = {d:,} is larger than the subsets that worked in the paper's Table 5 (BN "
                                   f"pairs of 2,560–5,120 numbers). Its fc subset of 20,490 numbers lost about 5 "
                                   f"points under aBEND (89.17 % vs 94.27 %). k = {PAPER_K} snapshots take "
                                   f"{mb:,.0f} MB.")
    return level, "Strong warning:", (f"d = {d:,} is in the range where the paper's generator failed: "
                                      f"layer3.5.conv3.weight with 262,144 numbers lost 10 points (84.01 % sBEND "
                                      f"vs 94.01 %). Choose BatchNorm layers instead. k = {PAPER_K} snapshots "
                                      f"take {mb:,.0f} MB.")


def size_warning(d: int) -> str:
    """The same evidence in one sentence, for a line that already states d; '' when d is small enough."""
    level = size_level(d)
    if level == "strong":
        return ("Strong warning: in the paper's Table 5 a subset of 262,144 numbers lost 10 points; the "
                "autoencoder cannot learn such a large vector well.")
    if level == "caution":
        return ("Caution: larger than the subsets that kept the original accuracy in the paper's Table 5 "
                "(BatchNorm pairs of 2,560–5,120 numbers); its fc subset of 20,490 lost about 5 points.")
    return ""
