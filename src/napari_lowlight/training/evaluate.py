"""``napari-lowlight evaluate --suite SUITE --data DIR [--split validation|test]``.

One table, every row computed in the same run on the same images: the raw
input, CLAHE, non-local means, brighten-then-NLM, brighten-then-BM3D,
``llcnn-paper`` and our model, with PSNR, SSIM (skimage.metrics) and Mpx/s.

Suites and splits
-----------------
``fluo``: W2S validation fields 071-080. ``fmd``: the held-out FMD confocal
fields (17, 18) at four real noise levels (the mean of the first 1, 2, 4 or 8
raw frames) against the 50-frame average; :func:`level_table` reports each
level. Both have a validation split only.
``lol``: real LOL pairs (:mod:`.lol`), the low exposure as the camera stored
it (uint8) against the long one: validation ids 560-679, test ids 680-789.
"brighten + non-local means" (exposure correction, then NLM) is the baseline
a photo model must never fall below.
``photo``: clean photos darkened by the physical low-light model (seeded).
``photo-gamma``: LLCNN's protocol (gamma in (2, 5), Gaussian sigma <= 0.03).
``photo-real``: clean photos through a random camera, dark and noisy in raw
(:func:`.unprocess.dark_photo`, seeded), as 8-bit files.
The three photo suites take Kodak24 for validation (recipes were chosen on
it) and CBSD68 for test: ``photo-real`` models never train or tune on it, but
models trained with the default photo sets (``datasets.PHOTO_SETS``) did, so
their CBSD68 scores are not held-out ones.
A ``seed`` draws one generator that darkens the photos in order.

Scoring
-------
``fluo`` and ``fmd`` (CSBDeep's convention): the target is normalised by its
(0.1, 99.9) percentiles and every prediction is fitted to it by least squares
(a*x + b) before PSNR/SSIM, data range 1.
``lol`` and the photo suites: full reference against the clean (long
exposure) image, data range 1, with no rescaling. The "GT-mean" columns
(prediction scaled so its mean matches the target's, as low-light papers
report) are shown separately.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from skimage import exposure, restoration
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .. import normalize
from . import datasets, degrade, lol, unprocess
from .suites import CSBDEEP_SUITES, SPLITS, SUITES

DEFAULT_MODELS = {"fluo": "fluo", "fmd": "fluo", "lol": "photo", "photo": "photo", "photo-gamma": "photo",
                  "photo-real": "photo"}
PHOTO_COLLECTIONS = {"validation": "Kodak24", "test": "CBSD68"}  # natural/<folder> of each split
# The classical rows of each suite (None: all of them).
CLASSICAL_ROWS = {
    "fmd": ("raw input", "non-local means", "BM3D", "brighten + BM3D"),
    # Colour BM3D costs ~12 s per 256 px crop here; exposure + NLM is the baseline this suite checks.
    "photo-real": ("raw input", "CLAHE", "non-local means", "brighten + non-local means"),
}


@dataclass
class Case:
    """One evaluation image: what the user has (``raw``, original dtype) and the truth."""

    raw: np.ndarray
    target: np.ndarray  # float in [0, 1] (photo) or percentile-normalised (fluo, fmd)
    group: str = ""  # fmd: the noise level ("avg1" .. "avg8")
    name: str = ""  # lol: the pair's id ("680")


@dataclass
class Row:
    name: str
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    psnr_gt_mean: list[float] = field(default_factory=list)
    ssim_gt_mean: list[float] = field(default_factory=list)
    seconds: float = 0.0
    megapixels: float = 0.0
    outputs: list[np.ndarray] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # each case's group (fmd: its noise level)

    def by_group(self) -> dict[str, tuple[float, float]]:
        """Mean (PSNR, SSIM) of each group, in the order the groups first appear."""
        groups = list(dict.fromkeys(self.groups))
        pick = {g: [i for i, h in enumerate(self.groups) if h == g] for g in groups}
        return {g: (float(np.mean([self.psnr[i] for i in ix])), float(np.mean([self.ssim[i] for i in ix])))
                for g, ix in pick.items()}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; use one of {', '.join(SPLITS)}.")


def load_cases(
    suite: str, data: Path, crop: int = 0, limit: int = 0, seed: int = 0, split: str = "validation"
) -> list[Case]:
    """The suite's images of ``split`` ("validation" or "test"), centre-cropped
    to ``crop`` px if set, the first ``limit`` if set."""
    from skimage import io

    if suite not in SUITES:
        raise ValueError(f"Unknown suite {suite!r}; use one of {', '.join(SUITES)}.")
    _check_split(split)
    if split != "validation" and suite in CSBDEEP_SUITES:
        raise ValueError(f"Suite {suite!r} has a validation split only (its test data is not in the "
                         "data folder); drop the test split.")
    cases = []
    if suite == "fluo":
        lows = sorted((Path(data) / "w2s-train" / "low").glob("*.tif"))
        for p in [p for p in lows if datasets._field(p) in datasets.FLUO_VAL_FIELDS]:
            raw = datasets.centre_crop(io.imread(p), crop)
            high = datasets.centre_crop(io.imread(p.parent.parent / "high" / p.name), crop).astype(np.float32)
            lo, hi = np.percentile(high, [0.1, 99.9])
            cases.append(Case(raw, (high - lo) / (hi - lo)))
    elif suite == "fmd":
        from .fluo_data import FMD_LEVELS, load_fmd

        for frames, gt in load_fmd(data, validation=True):
            gt = datasets.centre_crop(gt, crop)
            lo, hi = np.percentile(gt, [0.1, 99.9])
            for n in FMD_LEVELS:
                raw = datasets.centre_crop(frames[:n].astype(np.float32).mean(axis=0), crop)
                cases.append(Case(raw, (gt - lo) / (hi - lo), group=f"avg{n}"))
    elif suite == "lol":
        for pair in lol.load(data, split):  # names the missing ids when there are none
            low = np.round(datasets.centre_crop(pair.low, crop) * 255).astype(np.uint8)
            cases.append(Case(low, datasets.centre_crop(pair.high, crop), name=f"{pair.id:03d}"))
    else:
        darken = {"photo": degrade.low_light_photo, "photo-gamma": degrade.gamma_photo,
                  "photo-real": unprocess.dark_photo}[suite]
        rng = np.random.default_rng(seed)
        for clean in _photos(data, split):
            if limit and len(cases) == limit:  # the rng darkens in order: the first cases are the same
                break
            clean = datasets.centre_crop(clean, crop)
            dark = darken(clean, rng)
            cases.append(Case(np.round(dark * 255).astype(np.uint8), clean))
    if not cases:
        where = {"fluo": "w2s-train/low/*.tif (fields 071-080)", "fmd": "fmd-confocal-bpae-b (fields 17, 18)"}
        where = where.get(suite, f"natural/{PHOTO_COLLECTIONS[split]}")
        raise FileNotFoundError(f"No {split} images for suite {suite!r} in {data}: expected {where}.")
    return cases[:limit] if limit else cases


def _photos(data: Path, split: str) -> list[np.ndarray]:
    """The clean photos of ``split``: Kodak24 (validation) or CBSD68 (test); [] when absent."""
    if split == "validation":
        return datasets.load_photos(data, validation=True)
    try:
        return datasets.load_photos(data, validation=False, sets=(PHOTO_COLLECTIONS[split],))
    except FileNotFoundError:
        return []


# ---- the methods: each maps a raw image to a float prediction -------------------------


def _unit(raw: np.ndarray, suite: str) -> np.ndarray:
    """What a user would feed a classical filter: percentile-normalised
    fluorescence, or the photo in [0, 1]; clipped to [0, 1]."""
    mode = "percentile" if suite in CSBDEEP_SUITES else "dtype"
    x = normalize.normalize(raw[..., None] if raw.ndim == 2 else raw, mode)
    return np.clip(x[..., 0] if raw.ndim == 2 else x, 0, 1)


def _brighten(x: np.ndarray, suite: str) -> np.ndarray:
    """Fluorescence: a gamma that puts the mean at 0.4. Photos: exposure
    correction in linear light to a mean of 0.18."""
    if suite in CSBDEEP_SUITES:
        m = float(np.clip(x.mean(), 1e-4, 0.999))
        return x ** (np.log(0.4) / np.log(m))
    return np.clip(normalize.normalize(x, "exposure"), 0, 1)


def _nlm(x: np.ndarray) -> np.ndarray:
    axis = -1 if x.ndim == 3 else None
    sigma = float(np.mean(restoration.estimate_sigma(x, channel_axis=axis)))
    return restoration.denoise_nl_means(
        x, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=axis
    )


def _bm3d(x: np.ndarray) -> np.ndarray:
    import bm3d

    axis = -1 if x.ndim == 3 else None
    sigma = max(float(np.mean(restoration.estimate_sigma(x, channel_axis=axis))), 1e-3)
    return bm3d.bm3d_rgb(x, sigma) if x.ndim == 3 else bm3d.bm3d(x, sigma)


def methods(
    suite: str, models: tuple[str, ...], classical: bool = True
) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    from ..engine import enhance

    def network(name):
        def run(raw):
            if suite in CSBDEEP_SUITES and name == "llcnn-paper":
                # A 3-channel photo network: feed the grey image as RGB, average the output.
                rgb = np.repeat(_unit(raw, suite)[..., None], 3, axis=-1)
                return enhance(rgb, model=name, channel_axis=-1).mean(axis=-1)
            return enhance(raw, model=name, channel_axis=-1 if raw.ndim == 3 else None)

        return run

    table = {} if not classical else {
        "raw input": lambda raw: _unit(raw, suite),
        "CLAHE": lambda raw: exposure.equalize_adapthist(_unit(raw, suite)),
        "non-local means": lambda raw: _nlm(_unit(raw, suite)),
        "brighten + non-local means": lambda raw: _nlm(_brighten(_unit(raw, suite), suite)),
        "BM3D": lambda raw: _bm3d(_unit(raw, suite)),
        "brighten + BM3D": lambda raw: _bm3d(_brighten(_unit(raw, suite), suite)),
    }
    keep = CLASSICAL_ROWS.get(suite, tuple(k for k in table if k != "BM3D"))
    table = {k: v for k, v in table.items() if k in keep}
    for name in models:
        table[f"{name} (ours)" if name != "llcnn-paper" else name] = network(name)
    return table


# ---- scoring -------------------------------------------------------------------------


def fit_least_squares(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``a * pred + b`` closest to ``target`` in the least-squares sense."""
    x, y = pred.ravel().astype(np.float64), target.ravel().astype(np.float64)
    a, b = np.polyfit(x, y, 1) if x.std() > 0 else (0.0, y.mean())
    return (a * pred + b).astype(np.float32)


def score(pred: np.ndarray, target: np.ndarray, suite: str) -> tuple[float, float]:
    if suite in CSBDEEP_SUITES:
        pred = fit_least_squares(pred, target)
    pred, target = pred.astype(np.float64), target.astype(np.float64)
    axis = -1 if target.ndim == 3 else None
    return (
        peak_signal_noise_ratio(target, pred, data_range=1.0),
        structural_similarity(target, pred, data_range=1.0, channel_axis=axis),
    )


def gt_mean(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The "GT-mean" variant: the prediction scaled to the target's mean."""
    return np.clip(pred * (target.mean() / max(pred.mean(), 1e-8)), 0, 1)


def evaluate(
    suite: str, cases: list[Case], models: tuple[str, ...], progress=print, classical: bool = True
) -> list[Row]:
    rows = []
    for name, method in methods(suite, models, classical).items():
        row = Row(name)
        for case in cases:
            t = time.perf_counter()
            pred = np.asarray(method(case.raw), dtype=np.float32)
            row.seconds += time.perf_counter() - t
            row.megapixels += case.raw.shape[0] * case.raw.shape[1] / 1e6
            p, s = score(pred, case.target, suite)
            row.psnr.append(p), row.ssim.append(s)
            if suite not in CSBDEEP_SUITES:
                p, s = score(gt_mean(pred, case.target), case.target, suite)
                row.psnr_gt_mean.append(p), row.ssim_gt_mean.append(s)
            row.outputs.append(pred)
            row.groups.append(case.group)
        progress(f"  {name}: {np.mean(row.psnr):.2f} dB, {np.mean(row.ssim):.3f}")
        rows.append(row)
    return rows


def table(rows: list[Row], suite: str) -> str:
    if suite == "fmd":
        return level_table(rows)
    gt = suite not in CSBDEEP_SUITES
    head = "| method | PSNR (dB) | SSIM |" + (" PSNR GT-mean | SSIM GT-mean |" if gt else "") + " Mpx/s |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        cells = [r.name, f"{np.mean(r.psnr):.2f}", f"{np.mean(r.ssim):.3f}"]
        if gt:
            cells += [f"{np.mean(r.psnr_gt_mean):.2f}", f"{np.mean(r.ssim_gt_mean):.3f}"]
        cells.append(f"{r.megapixels / r.seconds:.3g}" if r.seconds else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def level_table(rows: list[Row]) -> str:
    """One column of PSNR / SSIM per group (noise level), then the speed."""
    groups = list(rows[0].by_group())
    head = "| method | " + " | ".join(f"{g} PSNR / SSIM" for g in groups) + " | Mpx/s |"
    lines = [head, "|" + "---|" * (len(groups) + 2)]
    for r in rows:
        cells = [r.name] + [f"{p:.2f} / {s:.3f}" for p, s in r.by_group().values()]
        cells.append(f"{r.megapixels / r.seconds:.3g}" if r.seconds else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def contact_sheet(rows: list[Row], cases: list[Case], path: Path, suite: str, n: int = 3) -> None:
    """PNG grid: input, best classical filter, ours, target for ``n`` images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classical = [
        r for r in rows if r.name not in ("raw input",) and "(ours)" not in r.name and r.name != "llcnn-paper"
    ]
    best = max(classical, key=lambda r: np.mean(r.psnr))
    ours = next(r for r in rows if "(ours)" in r.name)
    raw = rows[0]
    columns = [("input", raw), (f"best classical: {best.name}", best), (ours.name, ours)]
    n = min(n, len(cases))
    fig, axes = plt.subplots(n, 4, figsize=(13, 3.3 * n), squeeze=False)
    for i in range(n):
        panels = [(title, r.outputs[i]) for title, r in columns] + [("target", cases[i].target)]
        for ax, (title, img) in zip(axes[i], panels, strict=False):
            if suite in CSBDEEP_SUITES:
                img = fit_least_squares(img, cases[i].target) if title != "target" else img
            ax.imshow(np.clip(img, 0, 1), cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def metrics_key(suite: str, split: str = "validation") -> str:
    """The record's key for a suite's scores: ``eval_SUITE`` (validation), ``eval_SUITE-test``."""
    _check_split(split)
    return f"eval_{suite}" if split == "validation" else f"eval_{suite}-{split}"


def record_metrics(
    rows: list[Row], suite: str, n_images: int, crop: int, split: str = "validation"
) -> list[str]:
    """Write each evaluated weight set's scores into its JSON record, under
    :func:`metrics_key` (the weights file and its checksum are untouched);
    returns the names updated."""
    from .. import weights
    from .records import set_metrics

    key = metrics_key(suite, split)
    installed = weights.available_weights()
    classical = [r for r in rows if r.name != "raw input" and r.name.split(" ")[0] not in installed]
    if not classical:
        raise ValueError("Recording compares with the classical filters: evaluate them too.")
    best_classical = max(classical, key=lambda r: np.mean(r.psnr))
    updated = []
    for row in rows:
        name = row.name.split(" ")[0]
        if name not in installed:
            continue
        record = installed[name]
        entry = {
            "psnr": round(float(np.mean(row.psnr)), 2),
            "ssim": round(float(np.mean(row.ssim)), 3),
            "mpx_per_s": round(row.megapixels / row.seconds, 2),
            "images": n_images,
            "crop": crop or "whole",
            "best_classical": best_classical.name,
            "best_classical_psnr": round(float(np.mean(best_classical.psnr)), 2),
        }
        if suite == "fmd":  # each level, and the best classical row at each
            best = {g: max(p for c in classical for h, (p, _) in c.by_group().items() if h == g)
                    for g in row.by_group()}
            entry["levels"] = {g: {"psnr": round(p, 2), "ssim": round(q, 3),
                                   "best_classical_psnr": round(best[g], 2)}
                               for g, (p, q) in row.by_group().items()}
        if row.psnr_gt_mean:
            entry["psnr_gt_mean"] = round(float(np.mean(row.psnr_gt_mean)), 2)
            entry["ssim_gt_mean"] = round(float(np.mean(row.ssim_gt_mean)), 3)
        set_metrics(record, key, entry)
        updated.append(name)
    return updated
