"""Training and measurement: synthetic degradation, data sets, losses, the
training loop, evaluation against classical filters and recording the scores
into weight records.

This floor imports the inference core (:mod:`napari_lowlight.engine`,
:mod:`~napari_lowlight.weights`, :mod:`~napari_lowlight.models`, ...); the core
never imports it.
"""
