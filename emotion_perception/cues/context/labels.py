"""The context cue's label vocabulary: EMOTIC's categories, how they speak for the fused emotions, and its
continuous dimensions."""

EMOTIC_CATEGORIES: tuple[str, ...] = (
    "Affection", "Anger", "Annoyance", "Anticipation", "Aversion", "Confidence", "Disapproval",
    "Disconnection", "Disquietment", "Doubt/Confusion", "Embarrassment", "Engagement", "Esteem",
    "Excitement", "Fatigue", "Fear", "Happiness", "Pain", "Peace", "Pleasure", "Sadness",
    "Sensitivity", "Suffering", "Surprise", "Sympathy", "Yearning",
)
"""The 26 discrete EMOTIC categories, in the data set's (and our messages') order."""

CONTEXT_EMOTION_GROUPS: dict[str, tuple[str, ...]] = {
    "happy": ("Happiness", "Pleasure", "Excitement", "Affection", "Esteem", "Confidence"),
    "sad": ("Sadness", "Suffering", "Pain", "Fatigue", "Disconnection", "Yearning", "Embarrassment"),
    "angry": ("Anger", "Annoyance", "Disapproval", "Aversion"),
}
"""EMOTIC categories that speak for each emotion; the rest count towards "neutral"."""

VAD_DIMENSIONS: tuple[str, ...] = ("valence", "arousal", "dominance")
"""EMOTIC's continuous dimensions, each on a 1-10 scale."""
