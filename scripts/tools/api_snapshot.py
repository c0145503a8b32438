"""Save the public API's outputs on the sample images, or compare two saved sets bit for bit.

A refactor that must not change a pixel is checked by a snapshot before and after it:

    git worktree add /tmp/before HEAD~1
    PYTHONPATH=/tmp/before/src .venv/bin/python scripts/tools/api_snapshot.py save before.npz
    .venv/bin/python scripts/tools/api_snapshot.py save after.npz
    .venv/bin/python scripts/tools/api_snapshot.py compare before.npz after.npz

The cases cover every shipped model, every photo normalisation, RGBA, stacks, per-channel
enhancement, small tiles and batches, and ROIs of numpy, dask and stacked images.
"""

from __future__ import annotations

import sys

import numpy as np


def _samples():
    try:
        from napari_lowlight._napari.sample_data import dark_fluorescence, low_light_photo
    except ImportError:  # the layout before napari_lowlight._napari existed
        from napari_lowlight._sample_data import dark_fluorescence, low_light_photo
    return dark_fluorescence()[:300, :300], low_light_photo()[:260, :300]


def snapshot() -> dict[str, np.ndarray]:
    import dask.array as da

    import napari_lowlight as nl

    fl, ph = _samples()
    rgba = np.concatenate([ph, np.full(ph.shape[:2] + (1,), 200, np.uint8)], axis=-1)
    out = {
        "fluo": nl.enhance(fl),
        "fluo_stack": nl.enhance(np.stack([fl, fl[::-1]])),
        "fluo_3ch": nl.enhance(np.stack([fl, fl[:, ::-1], fl[::-1]]), channel_axis=0, model="fluo"),
        "photo": nl.enhance(ph, channel_axis=-1),
        "photo_rgba": nl.enhance(rgba, channel_axis=-1),
        "fluo_tile64": nl.enhance(fl, tile_size=64, batch_size=3),
    }
    for model in ("photo-ridge", "llcnn-paper"):
        out[model] = nl.enhance(ph, channel_axis=-1, model=model)
    for mode in ("auto-tone", "auto-exposure", "exposure", "dtype"):
        out["ridge_" + mode] = nl.enhance(ph, channel_axis=-1, model="photo-ridge", normalization=mode)
    boxes = [np.s_[10:90, 20:130], np.s_[150:260, 100:290]]
    regions = {
        "photo": (ph, boxes, {"channel_axis": -1}),
        "rgba": (rgba, boxes, {"channel_axis": -1}),
        "fluo": (fl, boxes, {}),
        "dask": (da.from_array(fl, chunks=64), boxes, {}),
        "stack": (np.stack([fl, fl[::-1]]), [np.s_[1, 10:90, 20:130], np.s_[:, 150:260, 100:290]], {}),
    }
    for name, (image, where, options) in regions.items():
        for k, crop in enumerate(nl.enhance_regions(image, where, **options)):
            out[f"regions_{name}_{k}"] = crop
    return out


def compare(before: str, after: str) -> int:
    a, b = np.load(before), np.load(after)
    if set(a) != set(b):
        print(f"different cases: {sorted(set(a) ^ set(b))}")
        return 1
    differ = [k for k in a if a[k].dtype != b[k].dtype or not np.array_equal(a[k], b[k])]
    verdict = f": {differ}" if differ else " (bit-identical)"
    print(f"{len(a)} outputs compared, {len(differ)} differ{verdict}")
    return 1 if differ else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "save":
        out = snapshot()
        np.savez(argv[1], **out)
        print(f"saved {len(out)} outputs to {argv[1]}")
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        return compare(argv[1], argv[2])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
