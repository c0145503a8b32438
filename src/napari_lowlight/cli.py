"""Command line: ``napari-lowlight enhance|train|evaluate|demo``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def _train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    cfg = TrainConfig.load(args.config)
    if args.steps:
        cfg.steps = args.steps
    recipe = shlex.join(["napari-lowlight", "train", "--config", str(args.config), "--data", "DATA", "--out", "weights/"])
    record = train(cfg, Path(args.data), Path(args.out), args.run_dir, recipe=recipe, quiet=args.quiet)
    print(f"wrote {Path(args.out) / record.file} and {record.name}.json (sha256 {record.sha256[:12]}...)")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="napari-lowlight", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a weight set from a TOML config")
    t.add_argument("--config", required=True, type=Path, help="TOML file, e.g. configs/fluo.toml")
    t.add_argument("--data", required=True, type=Path, help="data folder (holds w2s-train/ and natural/)")
    t.add_argument("--out", default=Path("weights"), type=Path, help="where the weights and record go")
    t.add_argument("--run-dir", type=Path, default=None, help="checkpoints, CSV log, plot (default runs/NAME)")
    t.add_argument("--steps", type=int, default=0, help="override the config's step count")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
