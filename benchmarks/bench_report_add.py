"""`mmvp report add` on oversized samples files: linear checks vs the former quadratic one.

    python benchmarks/bench_report_add.py                  # 10,000 / 20,000 / 40,000 lines
    python benchmarks/bench_report_add.py --lines 40000

A submitter can log any number of lines. A samples file of ``N`` lines cycling through the 300
questions (each logged ``N / 300`` times) is written beside a real results file, and verified in
one run by:

(a) ``verify_run``: this package's verification, end to end (reading, the duplicate-id check,
    rescoring, the rejection);
(b) ``former duplicate check``: the check ``report add`` used before, ``{d for d in ids if
    ids.count(d) > 1}``, alone: quadratic (40,000 lines took 34 s in the full command).

Linear means (a)'s time doubles with the lines; the growth ratio is printed next to (b)'s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lmms_mmvp import results  # noqa: E402
from lmms_mmvp.report.submission import verify_run  # noqa: E402
from mmvp_tasks.data import SHIPPED_DIR  # noqa: E402
from tests.support.lmms_eval_run import pair_responder, write_run  # noqa: E402


def former_duplicate_check(doc_ids: list) -> list:
    """The duplicate-id check of `report add` before it was made linear (for comparison)."""
    return sorted({d for d in doc_ids if doc_ids.count(d) > 1}, key=str)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    parser.add_argument("--former-up-to", type=int, default=20_000,
                        help="run the quadratic check only up to this many lines")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = write_run(Path(tmp) / "run", SHIPPED_DIR, pair_responder(set(range(1, 51))),
                        tasks=("mmvp",))  # fmt: skip
        samples = results.samples_file(run, "mmvp")
        first = json.loads(samples.read_text().splitlines()[0])
        line = {k: first[k] for k in ("target", "input", "filtered_resps")}
        verify_run(run)  # imports and task specs out of the timing
        print(f"{'lines':>8}  {'verify_run (s)':>15}  {'former check (s)':>17}")
        previous = None
        for n in args.lines:
            ids = [k % 300 for k in range(n)]
            samples.write_text("".join(json.dumps({**line, "doc_id": d}) + "\n" for d in ids))
            started = time.perf_counter()
            verified = verify_run(run)
            ours = time.perf_counter() - started
            assert any(r.reason == "missing_sample" for r in verified.rejections)
            former = "-"
            if n <= args.former_up_to:
                started = time.perf_counter()
                former_duplicate_check(ids)
                former = f"{time.perf_counter() - started:.2f}"
            growth = (
                f"  x{ours / previous[1]:.2f} for x{n / previous[0]:.0f} lines" if previous else ""
            )
            print(f"{n:>8}  {ours:>15.2f}  {former:>17}{growth}")
            previous = (n, ours)


if __name__ == "__main__":
    main()
