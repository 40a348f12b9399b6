import math

import numpy as np
import pytest

from bend_gui.core.results import metrics as M


def test_iou_of_wrong_predictions_by_hand():
    y = np.array([0, 0, 0, 0])
    preds = np.array([[1, 1, 0, 0],   # wrong on {0, 1}
                      [0, 1, 1, 0],   # wrong on {1, 2}
                      [0, 0, 0, 0]])  # never wrong
    iou = M.iou_matrix(preds, y)
    assert iou[0, 1] == pytest.approx(1 / 3)
    assert iou[0, 2] == 0.0 and iou[2, 2] == 1.0 and iou[0, 0] == 1.0


def test_diversity_equations_14_and_15_by_hand():
    gen = np.array([[0, 1, 2], [0, 1, 1], [2, 2, 2]])
    # pairwise disagreements: (0,1)=1, (0,2)=2, (1,2)=3; eq. 14 sums ordered pairs: 2*(1+2+3)/(3-1)
    assert M.diversity_within(gen, 3) == pytest.approx(6.0)
    orig = np.array([[0, 1, 2], [1, 1, 1], [2, 2, 0]])
    # eq. 15 pairs member i with original i: 0 + 1 + 1 disagreements over m = 3
    assert M.diversity_between(gen, orig) == pytest.approx(2 / 3)
    d = M.diversity_block(gen, orig, np.array([0, 1, 2]), 3)
    assert d["disagree_gen"] == pytest.approx((1 + 2 + 3) / 3 / 3)


def test_table3_row_columns():
    y = np.array([0, 1, 1, 0])
    gen = np.array([[0, 1, 1, 0], [0, 1, 0, 0], [1, 1, 1, 1]])
    orig = np.array([[0, 1, 1, 1], [0, 0, 1, 0]])
    probs = np.eye(2)[gen].mean(0)
    row = M.table3_row(gen, orig, y, probs, repeats=5, seed=0)
    assert row["sbend"] == 1.0 and row["gen_max"] == 1.0 and row["gen_mean"] == pytest.approx((1 + .75 + .5) / 3)
    assert row["gen_median"] == 0.75 and row["orig_mean"] == 0.75 and row["potential"] == 1.0
    assert len(row["abend_runs"]) == 5 and 0 <= row["abend_mean"] <= 1


def test_break_even_m_reproduces_the_papers_equation_13():
    # Table 4 (ResNet-50, CIFAR-10): k_pre 100, k 200, t_orge 28 s, t_ate 931.39 s, t_ddpm 857.14 s,
    # t_sgen 2.35 s; the paper's accounting puts t_org = (k_pre + k) · t_orge and finds m > 3.64.
    e = M.efficiency(t_orge=28, k_pre=100, t_org=300 * 28, t_ate=931.39, t_ddpm=857.14, t_sgen=2.35, k=200)
    assert round(e["break_even_m"], 2) == 3.64
    assert e["break_even_m"] == pytest.approx(e["break_even_m_paper_accounting"])
    assert M.t_diff(e, 4) < M.t_trad(e, 4) and M.t_diff(e, 3) > M.t_trad(e, 3)
    never = M.efficiency(t_orge=1, k_pre=1, t_org=1, t_ate=1, t_ddpm=1, t_sgen=2, k=1)
    assert math.isinf(never["break_even_m"])


def test_ece_and_nll():
    conf = np.array([0.9, 0.9, 0.6, 0.6])
    correct = np.array([1, 1, 1, 0])
    # bins: 0.9 → acc 1.0 (gap 0.1, weight .5); 0.6 → acc .5 (gap .1, weight .5)
    assert M.ece(conf, correct, 10) == pytest.approx(0.1)
    probs = np.array([[0.5, 0.5], [0.9, 0.1]])
    assert M.nll(probs, np.array([0, 1])) == pytest.approx((math.log(2) - math.log(0.1)) / 2)  # exact
    shares = np.array([[0.5, 0.5], [1.0, 0.0]])  # vote shares: nobody voted for the true class of sample 2
    assert M.nll(shares, np.array([0, 1]), M.VOTE_FLOOR) == pytest.approx((math.log(2) - math.log(1e-4)) / 2)
