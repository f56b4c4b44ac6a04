"""How the networks run: device and precision (:mod:`.device`), compiled and exported paths
(:mod:`.acceleration`), weights with their passports and fetching (:mod:`.weights`), the check every stage makes
before loading them (:mod:`.loading`), the training loop shared by every network (:mod:`.training`), image
decoding under a pixel limit (:mod:`.image_codec`), where the installed package keeps its files (:mod:`.paths`),
and how a live stream's frames reach the workers, newest first (:mod:`.handoff`).
"""
