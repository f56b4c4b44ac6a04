"""The cues: what each source of evidence about a person's feelings is (:mod:`.base`), the list of them
(:mod:`.registry`), and one folder per cue holding its networks, weights records, settings, result type,
labels, export entries and CLI commands.
"""
