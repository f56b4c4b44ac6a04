"""EMOTIC metrics: AP as scikit-learn computes it, thresholds where precision meets recall."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve

from emotion_perception.cues.context.metrics import (
    average_precisions, choose_thresholds, equal_precision_recall_threshold, mean_average_precision,
    vad_mean_absolute_error)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random((200, 26)) < rng.uniform(0.05, 0.5, 26)).astype(np.float32)
    labels[0] = 1  # every category has a positive
    scores = rng.random((200, 26))
    if seed == 2:
        scores = np.round(scores, 1)  # many ties
    expected = [average_precision_score(labels[:, c], scores[:, c]) for c in range(26)]
    np.testing.assert_allclose(average_precisions(labels, scores), expected, rtol=1e-10)
    assert mean_average_precision(labels, scores) == pytest.approx(np.mean(expected))


def test_category_without_positives_is_left_out_of_the_mean():
    labels = np.zeros((10, 2))
    labels[:5, 0] = 1
    scores = np.linspace(1, 0, 20).reshape(10, 2)
    ap = average_precisions(labels, scores)
    assert ap[0] == pytest.approx(1.0) and np.isnan(ap[1])
    assert mean_average_precision(labels, scores) == pytest.approx(1.0)


def test_threshold_is_where_precision_meets_recall():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.05, 0.01])
    threshold = equal_precision_recall_threshold(labels, scores)
    assert threshold == pytest.approx(0.7)  # top 3 predicted: 2 of 3 right, 2 of 3 found
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    at = int(np.flatnonzero(np.isclose(thresholds, threshold))[0])
    assert precision[at] == pytest.approx(recall[at])


def test_a_top_scored_negative_does_not_put_the_threshold_at_the_top():
    # precision = recall = 0 at 0.9 (no positive found yet) ties with the real crossing at 0.7
    labels = np.array([0, 1, 0, 1, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert equal_precision_recall_threshold(labels, scores) == pytest.approx(0.7)


def _reference_rule(labels: np.ndarray, scores: np.ndarray) -> float:
    """The reference implementation's rule, written from its description: scan scikit-learn's curve from the
    lowest threshold and take the first where precision equals recall exactly (0 if none)."""
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    for p, r, t in zip(precision, recall, thresholds):
        if p == r:
            return float(t)
    return 0.0


def _emotic_like_validation(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Validation labels and scores shaped like EMOTIC's: category prevalences 1-55 %, and a regression head's
    weakly separating, overlapping scores (so the top-scored example of many categories is a negative)."""
    rng = np.random.default_rng(seed)
    prevalence = np.r_[0.55, rng.uniform(0.01, 0.25, 25)]
    labels = (rng.random((2000, 26)) < prevalence).astype(np.float32)
    scores = prevalence + 0.12 * labels * rng.uniform(0.3, 1.0, 26) + rng.normal(0.0, 0.1, (2000, 26))
    return labels, scores.astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1])
def test_no_threshold_goes_to_the_top_score_on_emotic_like_data(seed):
    labels, scores = _emotic_like_validation(seed)
    top_is_negative = labels[np.argmax(scores, axis=0), np.arange(26)] == 0
    assert top_is_negative.sum() >= 5  # the situation that used to switch categories off
    thresholds = choose_thresholds(labels, scores)
    crossings = 0
    for category in range(26):
        column_labels, column_scores = labels[:, category], scores[:, category]
        assert thresholds[category] < column_scores.max() or not top_is_negative[category]
        positives = int(column_labels.sum())
        ranked = np.sort(column_scores)[::-1]
        top = column_labels[np.argsort(-column_scores)][:positives]
        if top.any() and ranked[positives - 1] > ranked[positives]:  # a real crossing: P = R > 0
            crossings += 1
            assert thresholds[category] == ranked[positives - 1]  # exactly as many predicted as positive
            assert thresholds[category] == pytest.approx(_reference_rule(column_labels, column_scores))
    assert crossings >= 20


def test_without_an_exact_crossing_the_closest_pair_is_taken():
    # 2 positives; ties jump from 1 predicted to 3 predicted: P/R = 1/0.5 at 0.9, 2/3 / 1 at 0.5
    labels = np.array([1, 1, 0, 0])
    scores = np.array([0.9, 0.5, 0.5, 0.1])
    assert equal_precision_recall_threshold(labels, scores) == pytest.approx(0.5)


def test_thresholds_per_category_and_never_on_without_positives():
    labels = np.zeros((6, 3))
    labels[:2, 0] = 1
    labels[:, 1] = 1
    scores = np.array([[0.9, 0.1, 0.5], [0.6, 0.2, 0.4], [0.7, 0.3, 0.3], [0.1, 0.4, 0.2], [0.2, 0.5, 0.1],
                       [0.3, 0.6, 0.0]])
    thresholds = choose_thresholds(labels, scores)
    # category 0: the two positives have 0.9 and 0.6, 0.7 (a negative) sits between; the top 2 give P = R = 1/2
    assert thresholds[0] == pytest.approx(0.7)
    assert thresholds[1] == pytest.approx(0.1)  # all positive: everything on gives P = R = 1
    assert np.isinf(thresholds[2])


def test_vad_mean_absolute_error():
    prediction = np.array([[5.0, 5.0, 5.0], [7.0, 2.0, 5.0]])
    target = np.array([[6.0, 5.0, 3.0], [7.0, 5.0, 5.0]])
    np.testing.assert_allclose(vad_mean_absolute_error(prediction, target), [0.5, 1.5, 1.0])
    with pytest.raises(ValueError):
        vad_mean_absolute_error(prediction, target[:1])
