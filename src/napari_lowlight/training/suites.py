"""The evaluation's suites and splits, named apart from :mod:`.evaluate`.

The command line checks ``--suite`` and ``--split`` against these before it
loads anything (``evaluate`` imports scikit-image, the data sets and torch).
"""

SUITES = ("fluo", "fmd", "lol", "photo", "photo-gamma", "photo-real")
SPLITS = ("validation", "test")
# Fluorescence, scored as CSBDeep scores it (percentile-normalised target, affine fit of the
# prediction); their test data is not in the data folder, so they have a validation split only.
CSBDEEP_SUITES = ("fluo", "fmd")
