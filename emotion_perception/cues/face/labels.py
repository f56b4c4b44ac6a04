"""The face cue's label vocabulary: the facial expressions and how each maps onto the fused emotions."""

FACE_EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The 7 facial expressions (the basic emotions of FER2013 and most face data sets), in our messages' order."""

FACE_EXPRESSION_EMOTIONS: dict[str, dict[str, float]] = {
    "angry": {"angry": 1.0},
    "disgust": {"angry": 0.6, "sad": 0.4},
    "fear": {"sad": 0.6, "angry": 0.4},
    "happy": {"happy": 1.0},
    "sad": {"sad": 1.0},
    "surprise": {"happy": 0.5, "neutral": 0.5},
    "neutral": {"neutral": 1.0},
}
"""How each facial expression speaks for the four emotions (rows sum to 1). Disgust and fear, negative
expressions the four-label vocabulary lacks, are split between angry and sad (aversion leaning angry, fear
leaning sad); surprise, of uncertain valence, between happy and neutral."""

FACE_EXPRESSION_CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "angry": (-0.6, 0.8), "disgust": (-0.7, 0.3), "fear": (-0.6, 0.7), "happy": (0.8, 0.5),
    "sad": (-0.7, -0.5), "surprise": (0.2, 0.8), "neutral": (0.0, 0.0),
}
"""(valence, arousal) of each facial expression on Russell's circumplex, both in [-1, 1]."""
