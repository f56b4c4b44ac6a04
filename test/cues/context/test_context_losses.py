"""EMOTIC losses against values computed by hand."""

import math

import pytest
import torch

from emotion_perception.cli import build_parser
from emotion_perception.cues.context.losses import (
    ABSENT_CATEGORY_WEIGHT, STATIC_CATEGORY_WEIGHTS, ContinuousLoss, DiscreteLoss, EmoticLoss,
    dynamic_category_weights)
from emotion_perception.cues.context.train import TrainConfig


def _targets() -> torch.Tensor:
    target = torch.zeros(3, 26)
    target[0, 0] = target[1, 0] = 1.0  # category 0: two positives
    target[2, 5] = 1.0  # category 5: one positive
    return target


def test_dynamic_weights_follow_the_batch_counts():
    weights = dynamic_category_weights(_targets())
    assert weights[0].item() == pytest.approx(1 / math.log(2 + 1.2))
    assert weights[5].item() == pytest.approx(1 / math.log(1 + 1.2))
    assert weights[1].item() == pytest.approx(ABSENT_CATEGORY_WEIGHT)


def test_dynamic_discrete_loss_by_hand():
    target = _targets()
    scores = torch.zeros(3, 26)
    scores[0, 0] = 0.5   # error 0.5 on a category with 2 positives
    scores[2, 5] = 0.0   # error 1.0 on a category with 1 positive
    scores[1, 3] = 2.0   # error 2.0 on an absent category
    # remaining error: target[1, 0] = 1 with score 0 -> error 1 on category 0
    expected = (0.25 + 1.0) / math.log(3.2) + 1.0 / math.log(2.2) + 4.0 * ABSENT_CATEGORY_WEIGHT
    assert DiscreteLoss("dynamic")(scores, target).item() == pytest.approx(expected, rel=1e-5)


def test_mean_and_static_discrete_loss_by_hand():
    target = torch.zeros(2, 26)
    scores = torch.zeros(2, 26)
    scores[0, 4] = 0.5
    scores[1, 10] = -1.0
    assert DiscreteLoss("mean")(scores, target).item() == pytest.approx((0.25 + 1.0) / 26)
    expected = 0.25 * STATIC_CATEGORY_WEIGHTS[4] + 1.0 * STATIC_CATEGORY_WEIGHTS[10]
    assert DiscreteLoss("static")(scores, target).item() == pytest.approx(expected)


def test_l2_loss_ignores_errors_under_the_margin():
    target = torch.tensor([[5.0, 5.0, 5.0]])
    prediction = torch.tensor([[5.5, 6.5, 3.0]])  # errors 0.5, 1.5, 2.0
    assert ContinuousLoss("l2", margin=1.0)(prediction, target).item() == pytest.approx(1.5 ** 2 + 2.0 ** 2)
    assert ContinuousLoss("l2", margin=0.0)(prediction, target).item() == pytest.approx(0.25 + 2.25 + 4.0)


def test_smooth_l1_loss_ignores_errors_under_the_margin():
    target = torch.zeros(1, 3)
    prediction = torch.tensor([[0.4, -0.8, 3.0]])
    assert ContinuousLoss("smooth_l1", margin=0.5)(prediction, target).item() == pytest.approx(0.5 * 0.64 + 2.5)


def test_combined_loss_weights_the_parts_and_scales_vad():
    target = _targets()
    scores = torch.rand(3, 26)
    vad = torch.tensor([[2.0, 5.0, 9.0]] * 3)
    scaled = torch.tensor([[0.6, 0.5, 0.2]] * 3)  # x10: errors 4, 0, 7
    combined = EmoticLoss(discrete_weight=0.3, continuous_weight=0.7, continuous="l2")(scores, scaled, target, vad)
    expected = 0.3 * DiscreteLoss("dynamic")(scores, target) + 0.7 * 3 * (16.0 + 49.0)
    assert combined.item() == pytest.approx(expected.item(), rel=1e-5)


def test_defaults_are_the_reference_training_defaults():
    # the reference trains with dynamic category weights and smooth-L1 for VAD, margin 1
    target = _targets()
    scores = torch.rand(3, 26)
    vad = torch.tensor([[2.0, 5.0, 9.0]] * 3)
    scaled = torch.tensor([[0.5, 0.55, 0.9]] * 3)  # x10: errors 3, 0.5, 0
    expected = 0.5 * DiscreteLoss("dynamic")(scores, target) + 0.5 * 3 * (3.0 - 0.5)
    assert EmoticLoss()(scores, scaled, target, vad).item() == pytest.approx(expected.item(), rel=1e-5)
    assert ContinuousLoss()(torch.tensor([[3.0]]), torch.zeros(1, 1)).item() == pytest.approx(2.5)
    assert TrainConfig().continuous_loss == "smooth_l1" and TrainConfig().category_weighting == "dynamic"
    parser = build_parser()
    assert parser.parse_args(["train-context", "--data", "somewhere"]).continuous_loss == "smooth_l1"


def test_unknown_loss_kinds_are_refused():
    with pytest.raises(ValueError, match="weighting"):
        DiscreteLoss("median")
    with pytest.raises(ValueError, match="continuous loss"):
        ContinuousLoss("l3")
