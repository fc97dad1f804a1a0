"""The ``mmvp`` command: the project's own tools around lmms-eval.

mmvp synth --out DIR       write the offline synthetic MMVP / MMVP-VLM data set
mmvp demo                  synthetic data + tiny model -> lmms-eval CLI -> results table
mmvp tasks                 this package's lmms-eval tasks (``lmms-eval tasks list`` cannot see them)
mmvp correlate --encoder [NAME=]RESULTS --mllm NAME=RESULTS    Pearson r + chart
mmvp mine --images DIR --out DIR    mine CLIP-blind pairs (CLIP similar, DINOv2 different)
mmvp report add|leaderboard|compare|ablation    verified entries, leaderboard, comparisons
mmvp grade FILE            score an existing answers file
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from lmms_mmvp import correlate, mining
from lmms_mmvp.demo import DEFAULT_STEPS, run_demo
from lmms_mmvp.extras import MissingExtraError, require
from lmms_mmvp.report import commands as report
from lmms_mmvp.report import grade


def _synth(args: argparse.Namespace) -> int:
    from mmvp_tasks.synth import write_synthetic_data

    require("skimage", "synth")  # the photos make the data set: no silent drawn stand-ins
    try:
        paths = write_synthetic_data(args.out, seed=args.seed, image_size=args.image_size)
    except (FileExistsError, ValueError) as err:  # foreign data under --out, bad size
        print(f"mmvp synth: {err}", file=sys.stderr)
        return 2
    print(f"MMVP layout:     {paths.mmvp_dir}\nMMVP-VLM layout: {paths.mmvp_vlm_dir}")
    print(f"Evaluate with:   MMVP_DATA_DIR={paths.mmvp_dir} lmms-eval --tasks mmvp ...")
    return 0


def _demo(args: argparse.Namespace) -> int:
    require("skimage", "demo")
    require("accelerate", "demo")  # transformers' Trainer trains the tiny model
    return run_demo(
        Path(args.workdir), tasks=args.tasks, limit=args.limit, mode=args.mode, steps=args.steps
    )


def _tasks(args: argparse.Namespace) -> int:
    from loguru import logger

    from lmms_mmvp.plugin import plugin_tasks

    logger.remove()  # lmms-eval logs every file it indexes
    logger.add(sys.stderr, level="WARNING")
    for name, entry in sorted(plugin_tasks().items()):
        print(f"{name:24} {entry['type']:6} {entry['yaml_path']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmvp", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = commands.add_parser("synth", help="write the offline synthetic data set")
    synth.add_argument("--out", required=True, type=Path, help="output directory")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--image-size", type=int, default=224)
    synth.set_defaults(run=_synth)

    demo = commands.add_parser(
        "demo", help="run MMVP and its ablations end to end, offline, on synthetic data"
    )
    demo.add_argument("--workdir", default="mmvp_demo", help="data, checkpoint and results")
    demo.add_argument("--tasks", default="mmvp_ablation", help="lmms-eval task or group names")
    demo.add_argument("--limit", type=int, default=None, help="documents per task (testing)")
    demo.add_argument(
        "--mode",
        default="interleave",
        choices=("interleave", "additive", "clip_only", "dino_only"),
        help="MoF mixing of the tiny model",
    )
    demo.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps")
    demo.set_defaults(run=_demo)

    tasks = commands.add_parser("tasks", help="list this package's lmms-eval tasks and groups")
    tasks.set_defaults(run=_tasks)

    correlate.add_parser(commands)
    mining.add_parser(commands)
    report.add_parser(commands)
    grade.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except MissingExtraError as err:
        print(f"mmvp: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
