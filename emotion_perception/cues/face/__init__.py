"""The face cue: MTCNN face detection and the mini-XCEPTION expression network, on released weights.

:class:`FaceExpression` is the pipeline stage (settings :class:`FaceConfig`, results :class:`FaceResult`);
``expression`` and ``mtcnn`` hold the two networks as our own torch code, ``boxes`` the face-box rules.
"""

from .expression import ExpressionClassifier, MiniXception, load_expression_model, load_keras_mini_xception, mini_xception
from .mtcnn import MTCNN, FaceDetections, load_mtcnn
from .results import FaceResult
from .stage import FaceConfig, FaceExpression

__all__ = [
    "MTCNN", "ExpressionClassifier", "FaceConfig", "FaceDetections", "FaceExpression", "FaceResult", "MiniXception",
    "load_expression_model", "load_keras_mini_xception", "load_mtcnn", "mini_xception",
]
