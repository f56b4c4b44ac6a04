"""Import of reference EMOTIC checkpoints (whole pickled modules) without executing pickled code."""

import sys
import types

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from emotion_perception.cli import main
from emotion_perception.cues.context import load_emotic
from emotion_perception.cues.context.convert import import_reference, load_module_state
from emotion_perception.runtime.weights import WeightsError


class Emotic(nn.Module):
    """The reference fusion module's layout (fc1, bn1, d1, fc_cat, fc_cont), rebuilt for the test."""

    def __init__(self, num_context_features=512, num_body_features=512):
        super().__init__()
        self.num_context_features = num_context_features
        self.num_body_features = num_body_features
        self.fc1 = nn.Linear(num_context_features + num_body_features, 256)
        self.bn1 = nn.BatchNorm1d(256)
        self.d1 = nn.Dropout(p=0.5)
        self.fc_cat = nn.Linear(256, 26)
        self.fc_cont = nn.Linear(256, 3)
        self.relu = nn.ReLU()

    def forward(self, x_context, x_body):
        features = torch.cat((x_context.view(-1, self.num_context_features), x_body.view(-1, self.num_body_features)), 1)
        out = self.d1(self.relu(self.bn1(self.fc1(features))))
        return self.fc_cat(out), self.fc_cont(out)


def _randomise_statistics(module):
    with torch.no_grad():
        for child in module.modules():
            if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
                child.running_mean.uniform_(-0.2, 0.2)
                child.running_var.uniform_(0.5, 1.5)
                child.num_batches_tracked.fill_(7)
    return module.eval()


@pytest.fixture()
def reference_files(tmp_path, monkeypatch):
    """The three modules saved the reference way: torch.save(module), the fusion class living in `emotic`."""
    module = types.ModuleType("emotic")
    module.Emotic = Emotic
    monkeypatch.setattr(Emotic, "__module__", "emotic")
    monkeypatch.setitem(sys.modules, "emotic", module)
    torch.manual_seed(3)
    body = _randomise_statistics(nn.Sequential(*list(torchvision.models.resnet18().children())[:-1]))
    context = _randomise_statistics(nn.Sequential(*list(torchvision.models.resnet18().children())[:-1]))
    fusion = _randomise_statistics(Emotic())
    paths = {name: tmp_path / f"model_{name}1.pth" for name in ("body", "context", "emotic")}
    torch.save(body, paths["body"])
    torch.save(context, paths["context"], _use_new_zipfile_serialization=False)  # the pre-1.6 format too
    torch.save(fusion, paths["emotic"])
    thresholds = np.linspace(0.01, 0.26, 26).astype(np.float32)
    np.save(tmp_path / "val_thresholds.npy", thresholds)
    return paths, (body, context, fusion), thresholds


def test_converted_checkpoint_gives_identical_outputs(tmp_path, reference_files):
    paths, (body, context, fusion), thresholds = reference_files
    checkpoint = import_reference(paths["body"], paths["context"], paths["emotic"], thresholds, tmp_path / "out")
    model, passport = load_emotic(checkpoint)
    np.testing.assert_allclose(passport.config["thresholds"], thresholds, rtol=1e-6)
    torch.manual_seed(1)
    scene, bodies = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 48, 48)
    with torch.inference_mode():
        expected = fusion(context(scene), body(bodies))
        actual = model(scene, bodies)
    for ours, theirs in zip(actual, expected):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_state_is_named_like_state_dict(reference_files):
    paths, (body, _, fusion), _ = reference_files
    for path, module in ((paths["body"], body), (paths["emotic"], fusion)):
        state = load_module_state(path)
        assert state.keys() == module.state_dict().keys()
        for key, value in module.state_dict().items():
            torch.testing.assert_close(state[key], value, rtol=0, atol=0)


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned-by-pickle",))


def test_pickled_code_is_refused_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = nn.Linear(2, 2)
    module.hook = _Payload()
    torch.save(module, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="refusing to load global .*system"):
        load_module_state(tmp_path / "evil.pth")
    assert not (tmp_path / "pwned-by-pickle").exists()


def test_unknown_classes_are_refused_unless_allowed(tmp_path, reference_files, monkeypatch):
    paths, _, _ = reference_files
    monkeypatch.setattr(Emotic, "__module__", "my_models")
    monkeypatch.setitem(sys.modules, "my_models", sys.modules["emotic"])
    torch.save(Emotic(), tmp_path / "renamed.pth")
    with pytest.raises(WeightsError, match="my_models.Emotic"):
        load_module_state(tmp_path / "renamed.pth")
    state = load_module_state(tmp_path / "renamed.pth", frozenset({("my_models", "Emotic")}))
    assert "fc_cat.weight" in state


def test_import_command_writes_a_loadable_checkpoint(tmp_path, reference_files, capsys):
    paths, _, _ = reference_files
    code = main(["import-context", "--body", str(paths["body"]), "--context", str(paths["context"]),
                 "--fusion", str(paths["emotic"]), "--thresholds", str(tmp_path / "val_thresholds.npy"),
                 "--out", str(tmp_path / "converted"), "--name", "emotic_ref"])
    assert code == 0
    assert (tmp_path / "converted" / "emotic_ref.pt").is_file()
    assert "context.weights" in capsys.readouterr().out
    swapped = main(["import-context", "--body", str(paths["emotic"]), "--context", str(paths["context"]),
                    "--fusion", str(paths["emotic"]), "--thresholds", str(tmp_path / "val_thresholds.npy"),
                    "--out", str(tmp_path / "bad")])
    assert swapped == 2
    assert "body checkpoint does not fit" in capsys.readouterr().err
