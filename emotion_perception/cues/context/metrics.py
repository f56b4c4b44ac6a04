"""EMOTIC metrics: per-category average precision and its mean, VAD error, and per-category thresholds."""

from __future__ import annotations

import numpy as np


def precision_recall(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and threshold at each distinct score, highest threshold first.

    At threshold t the prediction is ``scores >= t``. Recall is NaN when ``labels`` has no positive.
    """
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape or labels.size == 0:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} must be equal, non-empty vectors")
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    true_positives = np.cumsum(sorted_labels)[last_of_each_score]
    predicted = last_of_each_score + 1
    positives = sorted_labels.sum()
    recall = true_positives / positives if positives else np.full(true_positives.shape, np.nan)
    return true_positives / predicted, recall, sorted_scores[last_of_each_score]


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the step precision-recall curve, sum of (R_k - R_k-1) * P_k; NaN without positives."""
    precision, recall, _ = precision_recall(labels, scores)
    if np.isnan(recall).any():
        return float("nan")
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def average_precisions(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(C,) average precision of each column of (N, C) labels and scores."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    if labels.shape != scores.shape or labels.ndim != 2:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} must be equal (N, C) arrays")
    return np.array([average_precision(labels[:, c], scores[:, c]) for c in range(labels.shape[1])])


def mean_average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean of the per-category average precisions over the categories that have positives."""
    per_category = average_precisions(labels, scores)
    return float(np.nanmean(per_category)) if np.isfinite(per_category).any() else float("nan")


def vad_mean_absolute_error(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(3,) mean absolute error of valence, arousal and dominance (same scale as the inputs)."""
    prediction, target = np.asarray(prediction, np.float64), np.asarray(target, np.float64)
    if prediction.shape != target.shape or prediction.ndim != 2:
        raise ValueError(f"prediction {prediction.shape} and target {target.shape} must be equal (N, 3) arrays")
    return np.abs(prediction - target).mean(axis=0)


def equal_precision_recall_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold where precision meets recall, among the thresholds that find at least one positive.

    Precision equals recall (with a true positive) exactly where as many examples score at or above the
    threshold as there are positives; that crossing is unique, and it is the reference implementation's
    choice. Thresholds above the first true positive are left out: their precision and recall are both 0,
    an equality that says nothing and would put the threshold at the top score (the category would almost
    never fire). Without an exact crossing (tied scores jump over it, or no positive is among the top
    ``positives`` scores) the closest pair is taken, the lowest threshold on a tie. A category without
    positives gets +inf: it is never switched on.
    """
    precision, recall, thresholds = precision_recall(labels, scores)
    if np.isnan(recall).any():
        return float("inf")
    finds_one = recall > 0
    gap = np.abs(precision - recall)[finds_one]
    # thresholds run from highest to lowest: the last of the smallest gaps is the lowest threshold
    closest = len(gap) - 1 - int(np.argmin(gap[::-1]))
    return float(thresholds[finds_one][closest])


def choose_thresholds(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(C,) per-category thresholds (equal precision and recall) from (N, C) validation labels and scores."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    if labels.shape != scores.shape or labels.ndim != 2:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} must be equal (N, C) arrays")
    return np.array([equal_precision_recall_threshold(labels[:, c], scores[:, c])
                     for c in range(labels.shape[1])], dtype=np.float32)
