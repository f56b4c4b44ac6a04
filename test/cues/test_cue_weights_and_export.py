"""A cue's released weights and export entries travel with its class: one registered with register_cue shows
in `emotion-perception weights list`, is fetched by `weights fetch NAME --from DIR`, and its network is exported
(with those weights) by `emotion-perception export NAME -o F.onnx`, with no other edit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from emotion_perception.cli import main
from emotion_perception.configuration import setting
from emotion_perception.cues.base import Cue, PreparedPeople, fusion_weight_setting
from emotion_perception.cues.registry import register_cue, unregister_cue
from emotion_perception.runtime.export import BATCH_SIZES, ExportableNetwork, Sizes, example_generator
from emotion_perception.runtime.weights import (WEIGHTS_DIR_ENV, WeightsPassport, load_state_dict, published_path,
                                                sha256_of)
from emotion_perception.types import CueResult

LABELS = ("left", "right")


class LeanNet(nn.Module):
    """How far a box's centre sits from the image centre (N, 1) -> logits over LABELS (N, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(1, 2)

    def forward(self, offset: torch.Tensor) -> torch.Tensor:
        return self.linear(offset)


@dataclass
class LeanConfig:
    weights: str = setting("lean_rule", "the lean network's weights; empty switches the cue off")
    fusion_weight: float = fusion_weight_setting(1.0)


@dataclass
class LeanResult(CueResult):
    labels: ClassVar[tuple[str, ...]] = LABELS
    valid: bool
    status: str


class LeanCue(Cue):
    """A made-up cue whose released weights and export entry are set by the fixture (they need the file's sha256)."""

    name = "lean"
    config_class = LeanConfig
    result_class = LeanResult

    def __call__(self, inputs: PreparedPeople) -> list[LeanResult]:
        return [LeanResult(False, "a test cue") for _ in inputs.people]


def _inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    return (torch.rand(sizes["batch"], 1, generator=example_generator()) - 0.5,)


@pytest.fixture
def released_cue(tmp_path, monkeypatch):
    """LeanCue registered with one passport (its file in a release folder) and one export entry that loads it."""
    release = tmp_path / "release"
    release.mkdir()
    torch.manual_seed(7)
    torch.save(LeanNet().state_dict(), release / "lean_rule.pt")
    passport = WeightsPassport(name="lean_rule", architecture="lean_net", labels=LABELS, file_name="lean_rule.pt",
                               sha256=sha256_of(release / "lean_rule.pt"), size=(release / "lean_rule.pt").stat().st_size,
                               license="CC0 (test)", trained_on="nothing: seeded random weights")

    def build(weights: str | None) -> nn.Module:
        network = LeanNet()
        if weights is not None:
            path = published_path(passport) if weights == passport.name else Path(weights)
            network.load_state_dict(load_state_dict(path, passport.sha256))
        return network.eval()

    network = ExportableNetwork(
        name="lean_net", summary="the lean cue's network: box offsets (N, 1) -> logits (N, 2)", build=build,
        example_inputs=_inputs, input_names=("offset",), input_axes=({0: "batch"},), output_names=("logits",),
        export_sizes={"batch": 2}, check_sizes=BATCH_SIZES, default_weights=passport.name)
    cue = type("ReleasedLeanCue", (LeanCue,), {"released_weights": (passport,), "exportable_networks": (network,)})
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path / "weights"))
    register_cue(cue)
    yield release
    unregister_cue(cue)


def _listed(capsys) -> dict[str, str]:
    assert main(["weights", "list"]) == 0
    return {line.split()[0]: line.split()[2] for line in capsys.readouterr().out.splitlines()}


def test_a_registered_cues_weights_are_listed_and_fetched(released_cue, tmp_path, capsys):
    assert _listed(capsys)["lean_rule"] == "missing"
    assert main(["weights", "fetch", "lean_rule", "--from", str(released_cue)]) == 0, capsys.readouterr().err
    assert "lean_rule" in capsys.readouterr().out
    assert _listed(capsys)["lean_rule"] == "fetched"
    assert sha256_of(tmp_path / "weights" / "lean_rule.pt") == sha256_of(released_cue / "lean_rule.pt")


def test_a_registered_cues_network_is_exported_with_its_released_weights(released_cue, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import onnxruntime

    assert main(["weights", "fetch", "lean_rule", "--from", str(released_cue)]) == 0
    out = tmp_path / "lean.onnx"
    assert main(["export", "lean_net", "-o", str(out)]) == 0, capsys.readouterr().err
    checks = [line for line in capsys.readouterr().out.splitlines() if "max |diff|" in line]
    assert len(checks) == 2 and all(line.rstrip().endswith("ok") for line in checks)
    released = LeanNet().eval()
    released.load_state_dict(load_state_dict(released_cue / "lean_rule.pt"))
    offsets = np.array([[-0.4], [0.0], [0.3]], np.float32)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"offset": offsets})
    with torch.no_grad():
        np.testing.assert_allclose(logits, released(torch.from_numpy(offsets)).numpy(), rtol=0, atol=1e-5)


def test_an_unregistered_cues_weights_and_network_are_unknown(capsys):
    assert "lean_rule" not in _listed(capsys)
    assert main(["weights", "fetch", "lean_rule"]) == 2
    assert "unknown weights lean_rule" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["export", "lean_net", "-o", "never.onnx"])
    assert exited.value.code == 2


def test_a_cue_may_not_take_a_name_another_cue_releases():
    clash = type("ClashingCue", (LeanCue,), {"name": "lean2", "released_weights": (
        WeightsPassport(name="fer_mini_xception", architecture="lean_net", labels=LABELS),)})
    with pytest.raises(ValueError, match="fer_mini_xception already named by another cue"):
        register_cue(clash)
