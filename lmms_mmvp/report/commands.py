"""``mmvp report``: add a verified run, build the leaderboard, compare runs, ablation table.

    mmvp report add RESULTS_JSON [SAMPLES.jsonl ...] [--results results/] [--data DIR] [--partial]
    mmvp report leaderboard [--results results/] [--out leaderboard]
    mmvp report compare RUN_A RUN_B [...] [--task mmvp] [--chart compare.svg]
    mmvp report ablation RUN

A RUN is an entry under ``results/`` or an lmms-eval results file (with its samples beside it).
Every file is untrusted: a malformed one ends the command with one message naming it (exit
status 2), a run that fails verification lists every reason (exit status 1); nothing that comes
from a file reaches the terminal with its control characters. No network is used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lmms_mmvp.report.text import for_terminal

DEFAULT_RESULTS = Path("results")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``report`` and its subcommands on the ``mmvp`` command's subparsers."""
    parser = subparsers.add_parser(
        "report",
        help="verified submissions, leaderboard, comparisons, ablation table",
        description=__doc__.split("\n\n")[0],
    )
    commands = parser.add_subparsers(dest="report_command", required=True, metavar="COMMAND")

    add = commands.add_parser("add", help="verify an lmms-eval run and add it under results/")
    add.add_argument("results_json", type=Path, help="lmms-eval *_results.json (--log_samples run)")
    add.add_argument(
        "samples", type=Path, nargs="*", help="*_samples_<task>.jsonl (default: found beside it)"
    )
    add.add_argument("--name", help="display name (default: checkpoint or API model name)")
    add.add_argument("--partial", action="store_true", help="accept fewer than 150 full pairs")
    _common(add, data=True)
    add.set_defaults(run=_reporting_errors(_add))

    board = commands.add_parser("leaderboard", help="Markdown + self-contained HTML leaderboard")
    board.add_argument("--out", type=Path, default=Path("leaderboard"), help="writes OUT.md, .html")
    _common(board)
    board.set_defaults(run=_reporting_errors(_leaderboard))

    compare = commands.add_parser("compare", help="paired comparison of two or more runs")
    compare.add_argument("runs", nargs="+", metavar="[NAME=]RUN", help="entry or results JSON")
    compare.add_argument("--task", default="mmvp", help="task to compare (default: mmvp)")
    compare.add_argument("--chart", type=Path, help="also write an SVG chart")
    _common(compare, data=True)
    compare.set_defaults(run=_reporting_errors(_compare))

    ablation = commands.add_parser("ablation", help="prompt ablation table of one run")
    ablation.add_argument("run_path", metavar="[NAME=]RUN", help="entry or results JSON")
    _common(ablation, data=True)
    ablation.set_defaults(run=_reporting_errors(_ablation))
    return parser


def _reporting_errors(command):
    """Bad input (every error here is a ValueError or OSError naming its file) ends the command
    with the message instead of a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (ValueError, OSError) as err:
            say(f"mmvp report {args.report_command}: error: {err}", error=True)
            return 2

    return run


def say(text: str, *, error: bool = False) -> None:
    """Print, with every control character of ``text`` escaped (names, messages and answers
    come from untrusted files)."""
    print(for_terminal(text), file=sys.stderr if error else sys.stdout)


def _common(parser: argparse.ArgumentParser, *, data: bool = False) -> None:
    parser.add_argument(
        "--results", type=Path, default=DEFAULT_RESULTS, help="entries directory (default: results)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    if data:
        parser.add_argument(
            "--data",
            type=Path,
            help="folder with the Questions.csv to verify against (default: the MMVP questions "
            "shipped with lmms-mmvp)",
        )


def _add(args: argparse.Namespace) -> int:
    from lmms_mmvp.report.submission import Rejected, add_run

    existing = _entries(args)
    try:
        path = add_run(
            args.results_json,
            args.samples,
            args.results,
            data_dir=args.data,
            name=args.name,
            partial=args.partial,
            existing=existing,
        )
    except Rejected as rejected:
        say(f"mmvp report add: rejected {args.results_json}:", error=True)
        for rejection in rejected.rejections:
            say(f"  - {rejection}", error=True)
        return 1
    say(f"added {path}")
    return 0


def _entries(args: argparse.Namespace) -> list[dict]:
    """The valid entries under ``--results``; each invalid file is named and skipped."""
    from lmms_mmvp.report.schema import load_entries

    entries, skipped = load_entries(args.results)
    for message in skipped:
        say(f"mmvp report {args.report_command}: skipped {message}", error=True)
    return entries


def _leaderboard(args: argparse.Namespace) -> int:
    from lmms_mmvp.report.leaderboard import write_leaderboard

    markdown, html = write_leaderboard(_entries(args), args.out, seed=args.seed)
    say(f"wrote {markdown} and {html}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from lmms_mmvp.report.compare import compare_table, comparison_chart

    entries = [_load(run, args) for run in args.runs]
    say(compare_table(entries, args.task, seed=args.seed))
    if args.chart:
        args.chart.write_text(comparison_chart(entries, args.task, seed=args.seed))
        say(f"\nchart: {args.chart}")
    return 0


def _ablation(args: argparse.Namespace) -> int:
    from lmms_mmvp.report.compare import ablation_table

    say(ablation_table(_load(args.run_path, args), seed=args.seed))
    return 0


def _load(run: str, args: argparse.Namespace) -> dict:
    from lmms_mmvp.report.compare import load_run

    name, sep, path = run.partition("=")
    if not sep or not name or "/" in name:  # a path that contains "=" is still a path
        name, path = None, run
    entry, warnings = load_run(Path(path), name=name, data_dir=args.data)
    for warning in warnings:
        say(f"mmvp report {args.report_command}: warning: {warning}", error=True)
    return entry
