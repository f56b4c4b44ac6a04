"""How the networks run: device and precision (:mod:`.device`), compiled and exported paths
(:mod:`.acceleration`), weights with their passports and fetching (:mod:`.weights`), the training loop shared by
every network (:mod:`.training`), image decoding under a pixel limit (:mod:`.image_codec`) and where the
installed package keeps its files (:mod:`.paths`).
"""
