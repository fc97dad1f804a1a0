"""Running the real ``lmms-eval`` / ``mmvp`` command lines in tests, failing loudly.

lmms-eval exits 0 even when an evaluation failed, and then writes no results file: a test that only
saw "no results" would hide why. :func:`run_evaluation` checks the exit code *and* the results
file, and every failure message carries the tail of the subprocess's output.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from lmms_mmvp import results


class CommandFailed(AssertionError):
    """A command line failed or wrote nothing; the message ends with its output's tail."""


def output_tail(completed: subprocess.CompletedProcess, chars: int = 4000) -> str:
    return (
        f"\n--- stdout (tail) ---\n{completed.stdout[-chars:]}\n--- stderr (tail) ---\n"
        + (completed.stderr[-chars:])
    )


def run_command(command: list[str], *, timeout: int = 900, **kwargs) -> subprocess.CompletedProcess:
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    if completed.returncode != 0:
        raise CommandFailed(
            f"{command[:4]}... exited {completed.returncode}" + output_tail(completed)
        )
    return completed


def run_evaluation(command: list[str], output: Path, **kwargs) -> tuple[dict, Path, str]:
    """Run an lmms-eval command; ``(results, results file, log)`` of the file it just wrote."""
    started = time.time()
    completed = run_command(command, **kwargs)
    try:
        path = results.newest_results_file(output)
    except results.ResultsError as err:
        raise CommandFailed(f"{err}" + output_tail(completed)) from None
    if path.stat().st_mtime < started:
        raise CommandFailed(f"no new results file under {output}" + output_tail(completed))
    return results.load(path), path, completed.stdout + completed.stderr
