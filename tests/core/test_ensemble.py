import itertools

import numpy as np

from bend_gui.core.results import ensemble as E


def test_sbend_majority_and_ties_go_to_the_smallest_class():
    preds = np.array([[2, 1, 0, 3],
                      [2, 3, 1, 3],
                      [1, 3, 2, 0]])
    assert E.sbend(preds).tolist() == [2, 3, 0, 3]  # sample 2: a three-way tie → class 0
    # numpy.unique + argmax, as Algorithm 1 writes it
    ref = [np.unique(c, return_counts=True) for c in preds.T]
    assert E.sbend(preds).tolist() == [v[np.argmax(c)] for v, c in ref]


def _figure3(case):
    """The paper's Figure 3: 3 classifiers x 3 samples, 1 = correct. Wrong votes agree on one wrong class,
    so in case (b) the two wrong classifiers outvote the right one, as the paper's sBEND 66.7% says."""
    ok = {"iou0": [[1, 1, 0], [0, 1, 1], [1, 0, 1]],
          "iou667": [[1, 1, 0], [1, 1, 0], [1, 0, 1]],
          "iou1": [[1, 1, 0], [1, 1, 0], [1, 1, 0]]}[case]
    y = np.zeros(3, dtype=int)
    preds = np.array([[0 if c else 1 for c in row] for row in ok])
    return preds, y


def _abend_outcome_probs(preds, y):
    """Exact distribution of aBEND's accuracy: every member-choice per sample is equally likely."""
    m, n = preds.shape
    out = {}
    for pick in itertools.product(range(m), repeat=n):
        acc = round(float(np.mean([preds[p, j] == y[j] for j, p in enumerate(pick)])), 3)
        out[acc] = out.get(acc, 0) + 1 / m ** n
    return {k: round(v, 2) for k, v in out.items()}


def test_figure3_outcome_probabilities():
    p, y = _figure3("iou0")
    assert E.accuracy(E.sbend(p), y) == 1.0
    assert _abend_outcome_probs(p, y) == {1.0: 0.30, 0.667: 0.44, 0.333: 0.22, 0.0: 0.04}
    p, y = _figure3("iou667")
    assert round(E.accuracy(E.sbend(p), y), 3) == 0.667
    assert _abend_outcome_probs(p, y) == {1.0: 0.22, 0.667: 0.56, 0.333: 0.22}
    p, y = _figure3("iou1")
    assert _abend_outcome_probs(p, y) == {0.667: 1.0}


def test_abend_draws_classes_in_proportion_to_votes():
    preds = np.array([[0], [0], [0], [1]])  # 3 votes for 0, 1 for 1
    rng = np.random.default_rng(0)
    draws = np.array([E.abend(preds, rng)[0] for _ in range(20000)])
    assert abs((draws == 0).mean() - 0.75) < 0.015
    unanimous = np.array([[4, 2], [4, 2]])
    assert E.abend(unanimous, rng).tolist() == [4, 2]


def test_soft_vote_and_potential():
    probs = np.array([[0.6, 0.4], [0.2, 0.8]])
    assert E.soft_vote(probs).tolist() == [0, 1]
    preds = np.array([[0, 0, 1], [1, 0, 1]])
    assert E.potential(preds, np.array([1, 1, 0])) == 1 / 3
