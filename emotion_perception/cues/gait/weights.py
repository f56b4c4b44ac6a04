"""The gait networks' released weights (``GaitCue.released_weights``; `emotion-perception weights fetch` gets them)."""

from __future__ import annotations

from ...runtime.weights import WeightsPassport

STEP_STGCN = WeightsPassport(
    name="step_stgcn_epoch395",
    architecture="stgcn",
    labels=("angry", "neutral", "happy", "sad"),
    file_name="step_stgcn_epoch395.pth",
    size=2_883_429,
    sha256="2cf375384399e795acc77ffac0d4591e36ef86eb9c4036e6adb28ed2e3a66246",
    url="https://github.com/UttaranB127/STEP/raw/99f6722c149de9e1b8d109661f48ce0a9f9dbffb/"
        "classifier_stgcn_real_only/model_classifier_stgcn/features/epoch395_acc81.25_model.pth.tar",
    license="MIT (STEP authors)",
    preprocessing="step: root-centred frames, similarity-aligned to a reference frame 0; (N, 3, T, 16, 1)",
    trained_on="STEP's real gaits (E-Gait)",
    joint_order=("root", "spine", "neck", "head", "right_shoulder", "right_elbow", "right_hand",
                 "left_shoulder", "left_elbow", "left_hand", "right_hip", "right_knee",
                 "right_foot", "left_hip", "left_knee", "left_foot"),
)
"""STEP's ST-GCN (architecture ``stgcn``)."""

PROXEMO_VSGCNN = WeightsPassport(
    name="proxemo_vsgcnn_epoch134",
    architecture="vsgcnn",
    labels=("angry", "happy", "sad", "neutral"),
    file_name="proxemo_vsgcnn_epoch134.pth.tar",
    size=4_038_228,
    sha256="8b23ccf7a49d23b4851a2a4be930693476cfc09a4dc7323577913e93a7b766ba",
    url="https://github.com/vijay4313/proxemo/raw/00de40ddab57309d17752f3595fb833d40e3ffe8/"
        "emotion_classification/trained_models/mdl_epoch134_acc86.92_model.pth.tar",
    license="MIT (ProxEmo authors)",
    preprocessing="proxemo: 4 yaw views (30, 110, 200, 300 deg), inverted per-channel min-max image, 244x244",
    trained_on="EWalk + Edinburgh Locomotion MOCAP",
    joint_order=("root", "spine", "neck", "head", "left_shoulder", "left_elbow", "left_hand",
                 "right_shoulder", "right_elbow", "right_hand", "left_hip", "left_knee",
                 "left_foot", "right_hip", "right_knee", "right_foot"),
)
"""ProxEmo's VS-GCNN (architecture ``vsgcnn``)."""

GAIT_WEIGHTS: dict[str, WeightsPassport] = {passport.name: passport for passport in (STEP_STGCN, PROXEMO_VSGCNN)}
"""The gait weights by name (``gait.weights`` may name one)."""
