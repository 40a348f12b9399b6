"""The paper's measurements: Table 3's row, IoU of wrong predictions, diversity (eq. 14-15),
calibration of each rule, and the efficiency accounting of eq. 10-13. Accuracies are fractions."""

from __future__ import annotations

import math

import numpy as np

from . import ensemble


def member_accuracies(preds: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (np.asarray(preds) == np.asarray(y)[None, :]).mean(1)


def abend_repeats(preds: np.ndarray, y: np.ndarray, repeats: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([ensemble.accuracy(ensemble.abend(preds, rng), y) for _ in range(repeats)])


def table3_row(gen_preds, orig_preds, y, gen_mean_probs, *, repeats: int, seed: int) -> dict:
    """sBEND, aBEND (mean ± std over repeats), soft vote, max/mean/median of the members and of the
    original snapshots, and the potential (oracle) accuracy of the bagged members."""
    g = member_accuracies(gen_preds, y)
    o = member_accuracies(orig_preds, y)
    ab = abend_repeats(gen_preds, y, repeats, seed)
    return {
        "sbend": ensemble.accuracy(ensemble.sbend(gen_preds), y),
        "abend_mean": float(ab.mean()), "abend_std": float(ab.std()), "abend_runs": ab.tolist(),
        "soft": ensemble.accuracy(ensemble.soft_vote(gen_mean_probs), y),
        "gen_max": float(g.max()), "gen_mean": float(g.mean()), "gen_median": float(np.median(g)),
        "gen_min": float(g.min()),
        "orig_max": float(o.max()), "orig_mean": float(o.mean()), "orig_median": float(np.median(o)),
        "potential": ensemble.potential(gen_preds, y),
        "m": int(len(g)), "k": int(len(o)),
    }


def iou_matrix(preds: np.ndarray, y: np.ndarray) -> np.ndarray:
    """IoU of wrong predictions between every pair of members: |W_i ∩ W_j| / |W_i ∪ W_j|
    (1 on the diagonal; 1 for two members that are never wrong)."""
    wrong = (np.asarray(preds) != np.asarray(y)[None, :]).astype(np.float32)
    inter = wrong @ wrong.T
    sizes = wrong.sum(1)
    union = sizes[:, None] + sizes[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return out


def disagreement_matrix(a: np.ndarray, b: np.ndarray, num_classes: int) -> np.ndarray:
    """D[i, j] = number of samples on which member i of `a` and member j of `b` predict differently."""
    a, b = np.asarray(a), np.asarray(b)
    agree = np.zeros((len(a), len(b)), dtype=np.float64)
    for c in range(num_classes):
        agree += (a == c).astype(np.float32) @ (b == c).astype(np.float32).T
    return a.shape[1] - agree


def diversity_within(preds: np.ndarray, num_classes: int) -> float:
    """Eq. 14: d_i = Σ_{i≠j} Σ_k [p_i[k] ≠ p_j[k]] / (m − 1)."""
    m = len(preds)
    if m < 2:
        return 0.0
    return float(disagreement_matrix(preds, preds, num_classes).sum() / (m - 1))


def diversity_between(gen: np.ndarray, orig: np.ndarray) -> float:
    """Eq. 15: d_o = Σ_i Σ_k [p_i[k] ≠ q_i[k]] / m, pairing generated member i with original i
    (over the first min(m, k) of each)."""
    n = min(len(gen), len(orig))
    return float((np.asarray(gen)[:n] != np.asarray(orig)[:n]).sum() / n)


def _mean_offdiag(mat: np.ndarray) -> float:
    if mat.shape[0] < 2:
        return float("nan")
    mask = ~np.eye(mat.shape[0], dtype=bool)
    return float(mat[mask].mean())


def _d_i_from(dis: np.ndarray) -> float:
    """Eq. 14 from a disagreement matrix (its diagonal is zero)."""
    m = len(dis)
    return float(dis.sum() / (m - 1)) if m >= 2 else float("nan")


def diversity_block(gen: np.ndarray, orig: np.ndarray, y: np.ndarray, num_classes: int, seed: int = 0) -> dict:
    """Eq. 14 grows with the set size (it sums over pairs and divides by m - 1), so d_i of the generated
    and the original set are computed on seeded random subsets of the same size, min(m, k)."""
    size = min(len(gen), len(orig))
    rng = np.random.default_rng(seed)

    def pick(n: int) -> np.ndarray:
        return np.sort(rng.choice(n, size, replace=False)) if n > size else np.arange(n)

    both = np.concatenate([gen, orig])
    iou = iou_matrix(both, y)
    m = len(gen)
    dis_gg = disagreement_matrix(gen, gen, num_classes)
    dis_oo = disagreement_matrix(orig, orig, num_classes)
    dis_go = disagreement_matrix(gen, orig, num_classes)
    pg_, po = pick(len(gen)), pick(len(orig))
    n = gen.shape[1]
    return {
        "d_i_gen": _d_i_from(dis_gg[np.ix_(pg_, pg_)]),
        "d_i_orig": _d_i_from(dis_oo[np.ix_(po, po)]),
        "d_i_size": int(size),
        "d_o": diversity_between(gen, orig),
        # Per-pair disagreement rates, comparable across m, k and n.
        "disagree_gen": _mean_offdiag(dis_gg) / n,
        "disagree_orig": _mean_offdiag(dis_oo) / n,
        "disagree_cross": float(dis_go.mean() / n),
        "iou_gen": _mean_offdiag(iou[:m, :m]),
        "iou_orig": _mean_offdiag(iou[m:, m:]),
        "iou_cross": float(iou[:m, m:].mean()),
        "iou_max_to_orig_mean": float(iou[:m, m:].max(1).mean()),
    }


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int) -> float:
    """Expected calibration error with equal-width confidence bins."""
    confidence, correct = np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.mean() * abs(confidence[sel].mean() - correct[sel].mean())
    return float(total)


def nll(probs: np.ndarray, y: np.ndarray, floor: float = 1e-30) -> float:
    """Mean negative log-probability of the true class; `floor` only guards log(0)."""
    p = np.asarray(probs, dtype=np.float64)[np.arange(len(y)), np.asarray(y)]
    return float(-np.log(np.maximum(p, floor)).mean())


VOTE_FLOOR = 1e-4


def calibration(gen_preds: np.ndarray, mean_probs: np.ndarray, y: np.ndarray, num_classes: int, bins: int,
                seed: int) -> dict:
    """ECE and NLL of each rule. Soft voting uses the members' mean probabilities (exact NLL, as the
    members'). The voting rules use the vote shares count/m as their predicted distribution, floored at
    VOTE_FLOOR for the NLL (a class nobody voted for would give an infinite NLL); sBEND is confident by its
    winner's share, aBEND by the share of the class it drew."""
    m = len(gen_preds)
    shares = ensemble.vote_counts(gen_preds, num_classes) / m
    y = np.asarray(y)
    s_lab = shares.argmax(1)
    ab_lab = ensemble.abend(gen_preds, np.random.default_rng(seed))
    soft_lab = np.asarray(mean_probs).argmax(1)
    return {
        "soft": {"ece": ece(np.asarray(mean_probs).max(1), soft_lab == y, bins), "nll": nll(mean_probs, y)},
        "sbend": {"ece": ece(shares.max(1), s_lab == y, bins), "nll": nll(shares, y, VOTE_FLOOR)},
        "abend": {"ece": ece(shares[np.arange(len(y)), ab_lab], ab_lab == y, bins),
                  "nll": nll(shares, y, VOTE_FLOOR)},
    }


def efficiency(*, t_orge: float, k_pre: int, t_org: float, t_ate: float, t_ddpm: float, t_sgen: float,
               k: int, collect_epochs: float | None = None) -> dict:
    """Eq. 10-13: t_diff = t_org + t_ate + t_ddpm + m·t_sgen against t_trad = m·k_pre·t_orge, and the
    break-even m above which BEND costs less. t_org is measured (base training plus collection). The
    paper's accounting, t_org = (k_pre + collection epochs)·t_orge, is given beside it (its collection is
    one epoch per snapshot, so there k epochs; with snapshots every N iterations, fewer).
    Without base training (k_pre = 0, a pretrained start) the traditional cost is not measurable: None."""
    if k_pre <= 0 or t_orge <= 0:
        return {"t_org": t_org, "t_ate": t_ate, "t_ddpm": t_ddpm, "t_gen_per_member": t_sgen, "t_orge": t_orge,
                "k_pre": k_pre, "k": k, "collect_epochs": collect_epochs, "break_even_m": None,
                "break_even_m_paper_accounting": None, "t_trad_per_member": None}
    fixed = t_org + t_ate + t_ddpm
    per_trad = k_pre * t_orge
    denom = per_trad - t_sgen
    be = fixed / denom if denom > 0 else math.inf
    epochs = k if collect_epochs is None else collect_epochs
    paper_fixed = (k_pre + epochs) * t_orge + t_ate + t_ddpm
    be_paper = paper_fixed / denom if denom > 0 else math.inf
    return {"t_org": t_org, "t_ate": t_ate, "t_ddpm": t_ddpm, "t_gen_per_member": t_sgen, "t_orge": t_orge,
            "k_pre": k_pre, "k": k, "collect_epochs": epochs, "break_even_m": be,
            "break_even_m_paper_accounting": be_paper, "t_trad_per_member": per_trad}


def t_diff(eff: dict, m: int) -> float:
    return eff["t_org"] + eff["t_ate"] + eff["t_ddpm"] + m * eff["t_gen_per_member"]


def t_trad(eff: dict, m: int) -> float | None:
    return None if eff["t_trad_per_member"] is None else m * eff["t_trad_per_member"]
