"""Training: ``napari-lowlight train --config CONFIG --data DIR --out weights/``.

Deterministic (seeded numpy and torch), resumable from ``RUN_DIR/checkpoint.pt``
(saved every validation, loaded with ``weights_only=True``), with a progress
bar, validation every ``val_every`` steps, a CSV log and a PNG of the loss
curves. The batch of step ``s`` comes from its own generator seeded with
``(seed, s)``, so worker processes (``workers``) can prepare batches ahead
without changing them, and a resumed run draws what it would have drawn.
Bit-identical reruns hold on the CPU; GPU kernels may round differently.
With ``ema`` set, the exported weights are an exponential moving average of
the trained ones (``torch.optim.swa_utils``); it does not change the training.
(On ``fluo`` it gained nothing over the last step's weights: docs/results/fluo-ema.md.)
At the end it writes ``OUT/NAME.safetensors`` and its weight record
``OUT/NAME.json``.
"""

from __future__ import annotations

import csv
import math
import multiprocessing
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
    import tomli as tomllib

from .. import devices, models, tone_head, weights
from . import datasets, losses

# With ``ema``, val_* score the averaged weights (the ones exported) and raw_val_loss the trained ones.
CSV_FIELDS = ("step", "train_loss", "val_loss", "val_psnr", "lr", "minutes", "raw_val_loss")


@dataclass
class TrainConfig:
    name: str
    arch: str
    domain: str
    channels: int
    steps: int
    batch: int = 16
    patch: int = 96
    lr: float = 1e-3
    lr_min: float = 1e-5
    seed: int = 0
    val_every: int = 250
    threads: int = 0  # 0: all cores
    synthetic_fraction: float = 0.5
    normalization: dict = field(default_factory=lambda: {"mode": "percentile", "low": 1.0, "high": 99.8})
    data: str = ""
    description: str = ""
    init: str = ""  # start from this weight set in the output folder (a second stage)
    ema: float = 0.0  # decay of the exported moving average of the weights; 0: export the weights as trained
    photo_sets: list = field(default_factory=lambda: list(datasets.PHOTO_SETS))
    physical_fraction: float = 0.7  # photo: share of physical darkenings; the rest use LLCNN's gamma protocol
    # photo: ranges of the physical exposure factor and of LLCNN's gamma (degrade's defaults: the benchmark's)
    photo_exposure: tuple = (0.02, 0.2)
    photo_gamma: tuple = (2.0, 5.0)
    undarkened_fraction: float = 0.0  # photo: share of photos at full exposure (photon noise only)
    real_fraction: float = 0.0  # photo-real: share of real LOL pairs; the rest are synthesised
    # photo-real: shares of the synthetic darkenings ("unprocess", "physical", "gamma"); empty: unprocess only
    synthesis_mix: dict = field(default_factory=dict)
    lol_exposure_jitter: tuple = (1.0, 1.0)  # photo-real: range of re-exposure factors of the LOL lows
    unprocess_ranges: dict = field(default_factory=dict)  # photo-real: the camera synthesis's ranges changed
    train_only: str = ""  # train this submodule alone (e.g. "tone_head"), the rest frozen as loaded from init
    weight_decay: float = 0.0  # AdamW's decoupled weight decay; 0: plain Adam
    # fluo-nl: shares of the sources and the synthetic noise's ranges (see training.fluo_data)
    fluo_mix: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """The config in the TOML file ``path``.

        Raises
        ------
        ValueError
            A file that is not TOML, unknown keys or missing required ones.
        """
        with open(path, "rb") as fh:
            try:
                values = tomllib.load(fh)
            except tomllib.TOMLDecodeError as err:
                raise ValueError(f"{path} is not a valid TOML file: {err}") from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"{path}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}."
            )
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [k for k in required if k not in values]
        if missing:
            raise ValueError(f"{path}: missing key(s) {', '.join(missing)}.")
        return cls(**values)


def _lr(cfg: TrainConfig, step: int) -> float:
    """Cosine decay from ``lr`` to ``lr_min`` over the run."""
    t = min(step / max(cfg.steps, 1), 1.0)
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * t))


def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    mse = torch.mean((pred.clamp(0, 1) - target) ** 2).item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def predict(net: torch.nn.Module, x: torch.Tensor, head_inputs=()) -> torch.Tensor:
    """The network's output for the batch ``x``; with the tone head's inputs
    (the "learned-tone" normalisation), ``x`` first goes through the head's curve."""
    if head_inputs:
        x = tone_head.curve(x, *net.tone_head(*head_inputs))
    return net(x.contiguous(memory_format=torch.channels_last))


def validate(net: torch.nn.Module, loss_fn, pairs) -> tuple[float, float]:
    """Mean loss and PSNR over ``pairs`` of (input, target[, head inputs]) tensors, unbatched."""
    net.eval()
    total_loss, total_psnr = 0.0, 0.0
    with torch.inference_mode():
        for x, y, *head_inputs in pairs:
            y = y[None]
            pred = predict(net, x[None], [a[None] for a in head_inputs])
            total_loss += loss_fn(pred, y).item()
            total_psnr += psnr(pred, y)
    net.train()
    return total_loss / len(pairs), total_psnr / len(pairs)


def _initial_weights(cfg: TrainConfig, out: Path) -> torch.nn.Module:
    """The checked weight set ``cfg.init`` from ``out`` (written by an earlier stage)."""
    import json

    record = weights.Weights(**json.loads((out / f"{cfg.init}.json").read_text()))
    if record.arch == WARM_STARTS.get(cfg.arch) and record.in_channels == cfg.channels:
        return widen_inputs(weights.build_from_record(record, folder=out), cfg.arch, cfg.channels)
    if record.arch != cfg.arch or record.in_channels != cfg.channels:
        raise ValueError(
            f"init {cfg.init!r} is a {record.arch} with {record.in_channels} channels, not {cfg.arch}."
        )
    return weights.build_from_record(record, folder=out)


# The domain a record names (what it enhances) when the sampler's domain is a variant of it.
RECORD_DOMAIN = {"fluo-nl": "fluo", "photo-real": "photo"}

# A noise-aware architecture may start from the trained weights of the same network without
# the noise maps: the first convolution gains input channels whose weights start at zero, so
# the start computes exactly what the loaded network computes.
WARM_STARTS = {"llunet3-nl": "llunet3"}


def widen_inputs(source: torch.nn.Module, arch: str, channels: int) -> torch.nn.Module:
    """A new ``arch`` network holding ``source``'s weights, extra input channels zero."""
    net = models.build(arch, channels, channels)
    state = net.state_dict()
    for key, value in source.state_dict().items():
        target = state[key]
        if value.shape == target.shape:
            target.copy_(value)
        elif value.dim() == 4 and value.shape[0] == target.shape[0] and value.shape[2:] == target.shape[2:]:
            target.zero_()
            target[:, : value.shape[1]] = value
        else:
            raise ValueError(f"{key}: cannot widen {tuple(value.shape)} to {tuple(target.shape)}.")
    net.load_state_dict(state)
    return net


_SAMPLER: datasets.PairSampler | None = None  # each worker process's copy


def _batch(sampler: datasets.PairSampler, seed: int, step: int, size: int) -> tuple[np.ndarray, ...]:
    return sampler.batch(np.random.default_rng((seed, step)), size)


def _init_worker(sampler: datasets.PairSampler) -> None:
    global _SAMPLER
    _SAMPLER = sampler


def _worker_batch(seed: int, step: int, size: int) -> tuple[np.ndarray, ...]:
    return _batch(_SAMPLER, seed, step, size)


def batches(
    sampler: datasets.PairSampler, seed: int, size: int, start: int, stop: int, workers: int = 0
) -> Iterator[tuple[np.ndarray, ...]]:
    """The batches of steps ``start .. stop - 1`` in order; with ``workers``
    processes preparing up to ``4 * workers`` of them ahead (degrading photos
    costs more CPU than a GPU step). The batches do not depend on ``workers``."""
    if workers <= 0:
        for step in range(start, stop):
            yield _batch(sampler, seed, step, size)
        return
    # Not fork: this process already runs torch's threads (and maybe CUDA), and forking a threaded
    # process can deadlock the child. forkserver (spawn where there is none) sends each worker a
    # copy of the loaded images once, at start.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers, _init_worker, (sampler,)) as pool:
        pending: deque = deque()
        for step in range(start, stop):
            pending.append(pool.apply_async(_worker_batch, (seed, step, size)))
            if len(pending) >= 4 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _optimizer(cfg: TrainConfig, net: torch.nn.Module) -> torch.optim.Optimizer:
    """Adam (AdamW with ``weight_decay``) over the parameters ``train_only`` names
    (all of them by default); the others are frozen."""
    if cfg.train_only:
        if not hasattr(net, cfg.train_only):
            raise ValueError(
                f"train_only names {cfg.train_only!r}, which the {cfg.arch} network does not have."
            )
        net.requires_grad_(False)
        getattr(net, cfg.train_only).requires_grad_(True)
    params = [p for p in net.parameters() if p.requires_grad]
    if cfg.weight_decay:
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr)


def _save_checkpoint(path: Path, net, opt, step: int, log: list[dict], average=None) -> None:
    tmp = path.with_suffix(".tmp")
    state = {
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "step": step,
        "torch_rng": torch.get_rng_state(),
        "log": log,
    }
    if average is not None:
        state["average"] = average.state_dict()
    torch.save(state, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint


def moving_average(net: torch.nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel | None:
    """An exponential moving average of ``net``'s weights (None when ``decay`` is 0)."""
    if not decay:
        return None
    if not 0.0 < decay < 1.0:
        raise ValueError(f"ema must lie between 0 and 1 (a decay such as 0.999), not {decay}.")
    ema_fn = torch.optim.swa_utils.get_ema_multi_avg_fn(decay)
    return torch.optim.swa_utils.AveragedModel(net, multi_avg_fn=ema_fn)


def plot_curves(log: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    train = [r for r in log if r["train_loss"] != ""]
    val = [r for r in log if r["val_loss"] != ""]
    ax.plot([r["step"] for r in train], [r["train_loss"] for r in train],
            label="training (mean since last point)")
    ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", label="validation")
    raw = [r for r in val if r.get("raw_val_loss", "") != ""]
    if raw:
        ax.plot([r["step"] for r in raw], [r["raw_val_loss"] for r in raw], ".--",
                label="validation, weights before averaging")
    ax.set(xlabel="step", ylabel="loss: 0.84(1-MS-SSIM) + 0.16 L1", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _write_log(log: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, CSV_FIELDS)
        writer.writeheader()
        writer.writerows(log)


def train(
    cfg: TrainConfig,
    data: Path,
    out: Path,
    run_dir: Path | None = None,
    recipe: str = "",
    quiet: bool = False,
    stop_at: int | None = None,
    device: str = "auto",
    workers: int = 0,
) -> weights.Weights | None:
    """Train ``cfg`` on ``data``; write the weights and record into ``out``.

    ``stop_at`` pauses after that many steps (checkpointed, nothing exported,
    returns None); running again resumes exactly where it stopped. ``device``
    is resolved by :func:`devices.get_device` ("auto" takes a GPU when there is
    one); ``workers`` processes prepare the batches.
    """
    from tqdm import tqdm

    run_dir = Path(run_dir or Path("runs") / cfg.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    # Training owns its process: size torch's pool once (the engine never does).
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    else:
        devices.set_threads()
    dev = devices.get_device(device)
    torch.manual_seed(cfg.seed)
    # Built and initialised on the CPU, so the seed gives the same start on any device.
    net = models.build(cfg.arch, cfg.channels, cfg.channels).train()
    if cfg.init:
        net.load_state_dict(_initial_weights(cfg, out).state_dict())
    mode = cfg.normalization["mode"]
    if mode == "learned-tone":
        tone_head.attach(net, cfg.normalization, inference=False)
    # Channels-last like the engine: oneDNN trains faster so (a fluo step on the CPU: 411 -> 352 ms).
    net.to(dev, memory_format=torch.channels_last)
    opt = _optimizer(cfg, net)
    average = moving_average(net, cfg.ema)
    exported = average.module if average is not None else net  # what is validated and written out
    loss_fn = losses.MixLoss().to(dev)
    sampler = datasets.PairSampler(
        cfg.domain, data, cfg.patch, cfg.synthetic_fraction, cfg.photo_sets,
        photo_normalization=mode, physical_fraction=cfg.physical_fraction,
        exposure=tuple(cfg.photo_exposure), gamma=tuple(cfg.photo_gamma), undarkened=cfg.undarkened_fraction,
        fluo_mix=dict(cfg.fluo_mix), real_fraction=cfg.real_fraction,
        synthesis_mix=dict(cfg.synthesis_mix), lol_exposure_jitter=tuple(cfg.lol_exposure_jitter),
        unprocess_ranges=dict(cfg.unprocess_ranges),
    )
    val_pairs = [
        [torch.from_numpy(a).to(dev) for a in pair]
        for pair in datasets.validation_pairs(cfg.domain, data, photo_normalization=mode)
    ]
    step, log = 0, []
    ckpt = run_dir / "checkpoint.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=True, map_location=dev)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, log = state["step"], list(state["log"])
        if average is not None:
            if "average" not in state:
                raise ValueError(f"{ckpt} was written without a weight average ('ema'); resume it without "
                                 "'ema' or start a new run folder.")
            average.load_state_dict(state["average"])
        torch.set_rng_state(state["torch_rng"].cpu())
    start, running = time.perf_counter() - (log[-1]["minutes"] * 60 if log else 0.0), []
    bar = tqdm(total=cfg.steps, initial=step, desc=cfg.name, disable=quiet, mininterval=5)
    end = min(cfg.steps, stop_at or cfg.steps)
    for batch in batches(sampler, cfg.seed, cfg.batch, step, end, workers):
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step)
        noisy, clean, *head_inputs = (torch.from_numpy(a).to(dev) for a in batch)
        loss = loss_fn(predict(net, noisy, head_inputs), clean)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if average is not None:
            average.update_parameters(net)
        running.append(loss.item())
        step += 1
        bar.update(1)
        if step % cfg.val_every == 0 or step in (cfg.steps, stop_at):
            val_loss, val_psnr = validate(exported, loss_fn, val_pairs)
            row = {
                "step": step,
                "train_loss": float(np.mean(running)),
                "val_loss": val_loss,
                "val_psnr": val_psnr,
                "lr": _lr(cfg, step),
                "minutes": (time.perf_counter() - start) / 60,
                "raw_val_loss": validate(net, loss_fn, val_pairs)[0] if average is not None else "",
            }
            log.append(row)
            running = []
            bar.set_postfix(loss=f"{row['train_loss']:.4f}", val=f"{val_loss:.4f}", psnr=f"{val_psnr:.2f}")
            _save_checkpoint(ckpt, net, opt, step, log, average)
            _write_log(log, run_dir / "log.csv")
            plot_curves(log, run_dir / "loss.png", f"{cfg.name} ({cfg.arch})")
    bar.close()
    if step < cfg.steps:
        return None
    exported.requires_grad_(True)  # the record counts every parameter, frozen ones too
    return export(cfg, exported.cpu().eval(), out, log, recipe, trained_on=dev.type)


def export(
    cfg: TrainConfig, net: torch.nn.Module, out: Path, log: list[dict], recipe: str, trained_on: str = "cpu"
) -> weights.Weights:
    """Write ``NAME.safetensors`` and its record ``NAME.json`` into ``out``."""
    from safetensors.torch import save_file

    path = out / f"{cfg.name}.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, path, metadata={"arch": cfg.arch})
    last = log[-1] if log else {}
    record = weights.Weights(
        name=cfg.name,
        arch=cfg.arch,
        in_channels=cfg.channels,
        out_channels=cfg.channels,
        domain=RECORD_DOMAIN.get(cfg.domain, cfg.domain),
        normalization=cfg.normalization,
        file=path.name,
        sha256=weights.sha256sum(path),
        parameters=models.count_parameters(net),
        macs_per_pixel=int(net.macs_per_pixel),
        receptive_field_radius=int(net.receptive_field_radius),
        recipe=recipe,
        data=cfg.data,
        metrics={
            "steps": last.get("step", 0),
            "train_minutes": round(last.get("minutes", 0.0), 1),
            "trained_on": trained_on,
            "val_loss": round(last.get("val_loss", float("nan")), 4),
            "val_psnr_unscaled": round(last.get("val_psnr", float("nan")), 2),
            **({"weight_average_decay": cfg.ema} if cfg.ema else {}),
        },
        description=cfg.description,
    )
    (out / f"{cfg.name}.json").write_text(record.to_json())
    return record
