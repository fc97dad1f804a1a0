"""Answer reading speed on long, reasoning-model shaped replies: answers/s, this tree vs a baseline.

    python benchmarks/bench_answers.py                      # 10,000 replies, this tree only
    python benchmarks/bench_answers.py --baseline main      # and the reader of git revision main

10,000 replies are generated deterministically (``--seed``) on the 300 real MMVP questions in the
shape reasoning models answer once lmms-eval has cut their ``<think>`` block: several hundred words
of markdown (a heading, bullets that weigh both options by their labels and texts, sentences about
the scene, a second look), then one of several endings: a final statement ("Therefore, the answer
is **(b) Closed**.", ``\\boxed{b}``, "So, (b) No.", a last line that is only the option, an
``<answer>`` tag), a hedge naming both options, or none.

Each reader runs in its own interpreter (the baseline's ``mmvp_tasks`` is taken from ``git
archive REV``), over all replies, ``--rounds`` times, alternating with the other reader so that
load from other processes hits both alike; the best CPU time of each is reported as answers/s.
The readers are called as the mmvp task calls them (the prompt's labels; the question where the
reader takes it). Also reported: how many replies each reader reads, and how many of those differ
from the option the generator intended (a generated reply states one option or none, so a
difference is a misreading).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.mmvp_data import real_rows  # noqa: E402

SCENE = [
    "The photo seems to be taken in daylight, with soft light coming from the upper left.",
    "The background is slightly blurred, which keeps the focus on the main subject.",
    "There are no other objects in the frame that would hide the relevant part.",
    "The colors are vivid and the edges are sharp, so the details are easy to make out.",
    "A few smaller elements appear near the borders of the image, but they do not matter here.",
    "The composition is centered and the subject takes up most of the frame.",
    "Shadows fall toward the lower right, consistent with a single light source.",
    "The resolution is high enough to distinguish fine textures on the surface.",
    "Nothing in the scene suggests that the picture has been edited or cropped oddly.",
    "The perspective is roughly at eye level, so proportions look natural.",
]
SECOND_LOOK = [
    "Wait, let me double-check this by looking at the image again.",
    "Let me reconsider the details before committing to an answer.",
    "On a second look, the same features stand out.",
    "Hmm, I should be careful not to confuse the two options here.",
]
JUDGEMENTS = {
    True: ["this matches what is visible", "the visual evidence supports this"],
    False: ["the visual evidence does not support this", "this does not fit the image"],
}
ENDINGS = [
    "Therefore, the answer is **({label}) {text}**.",
    "**Final Answer:** ({label}) {text}",
    "So the correct choice is ({label}).\n\n\\boxed{{{label}}}",
    "So, ({label}) {text}.",
    "**{text}**",
    "<answer>{label}</answer>",
    "It could be either ({label}) {text} or ({other_label}) {other_text}.",  # names both
    "",  # no conclusion
]


def generate(count: int, seed: int) -> list[dict]:
    """``count`` replies: ``{"index", "response", "intended"}`` (``intended`` is None for a
    reply that names both options or concludes nothing)."""
    import re

    rng = random.Random(seed)
    rows = real_rows()
    replies = []
    for _ in range(count):
        row = rng.choice(rows)
        options = re.findall(r"\((\w)\)\s*(.*?)\s*(?=\(\w\)|$)", row["Options"])
        (label, text), (other_label, other_text) = rng.sample(options, 2)
        ending = rng.choice(ENDINGS)
        intended = label if ending and "either" not in ending else None
        replies.append(
            {
                "index": int(row["Index"]),
                "response": _reply(rng, row["Question"], (label, text), (other_label, other_text))
                + "\n\n"
                + ending.format(
                    label=label, text=text, other_label=other_label, other_text=other_text
                ),
                "intended": intended,
            }
        )
    return replies


def _reply(rng: random.Random, question: str, chosen, other) -> str:
    paragraphs = [f"### Analysis\nThe question asks: {question}"]
    for _ in range(rng.randint(3, 6)):
        paragraphs.append(" ".join(rng.sample(SCENE, rng.randint(3, 6))))
        bullets = [
            f"- **Option ({label}) {text}**: if this were right, the image would show it "
            f"clearly; {rng.choice(JUDGEMENTS[(label, text) == chosen])}."
            for label, text in rng.sample([chosen, other], 2)
        ]
        paragraphs.append("\n".join(bullets))
        paragraphs.append(rng.choice(SECOND_LOOK))
    return "\n\n".join(paragraphs)


# Runs in a fresh interpreter whose sys.path starts with the reader's package root.
WORKER = textwrap.dedent(
    """
    import inspect, json, sys, time
    from mmvp_tasks.answers import extract_choice, parse_options
    from mmvp_tasks.prompts import shown_labels
    replies, rows = json.load(open(sys.argv[1]))
    takes_question = "question" in inspect.signature(extract_choice).parameters
    calls = []
    for reply in replies:
        row = rows[str(reply["index"])]
        options = parse_options(row["Options"])
        extra = {"question": row["Question"]} if takes_question else {}
        calls.append((reply["response"], options, shown_labels(options), extra))
    start = time.process_time()
    readings = [extract_choice(r, o, shown_labels=s, **e) for r, o, s, e in calls]
    print(json.dumps({"seconds": time.process_time() - start, "readings": readings}))
    """
)


def run_reader(package_root: Path, replies_file: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package_root), str(REPO)])}
    completed = subprocess.run(
        [sys.executable, "-c", WORKER, str(replies_file)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=package_root,
    )
    return json.loads(completed.stdout)


def baseline_tree(revision: str, into: Path) -> Path:
    """The ``mmvp_tasks`` package of git ``revision``, unpacked under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "mmvp_tasks"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="replies (default 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per reader, best kept")
    parser.add_argument("--baseline", help="git revision whose reader to compare, e.g. main")
    args = parser.parse_args()

    replies = generate(args.count, args.seed)
    words = sum(len(r["response"].split()) for r in replies) / len(replies)
    print(f"{len(replies)} replies, {words:.0f} words on average (seed {args.seed})")
    rows = {row["Index"]: row for row in real_rows()}
    with tempfile.TemporaryDirectory() as tmp:
        replies_file = Path(tmp) / "replies.json"
        replies_file.write_text(json.dumps([replies, rows]))
        readers = {"this tree": REPO}
        if args.baseline:
            readers[f"baseline {args.baseline}"] = baseline_tree(args.baseline, Path(tmp))
        best: dict[str, dict] = {}
        for _ in range(args.rounds):
            for name, root in readers.items():
                result = run_reader(root, replies_file)
                if name not in best or result["seconds"] < best[name]["seconds"]:
                    best[name] = result
    stating = sum(r["intended"] is not None for r in replies)
    for name, result in best.items():
        read = [(got, r["intended"]) for got, r in zip(result["readings"], replies, strict=True)]
        right = sum(got is not None and got == intended for got, intended in read)
        misread = sum(got is not None and got != intended for got, intended in read)
        print(
            f"{name:<22} {len(replies) / result['seconds']:>8,.0f} answers/s  "
            f"(best of {args.rounds}, CPU time); read {right} of the {stating} replies that "
            f"state an answer, {misread} replies as another option or one naming none"
        )
    if len(best) == 2:
        (_, new), (_, old) = best.items()
        print(f"speed ratio this tree / baseline: {old['seconds'] / new['seconds']:.2f}")


if __name__ == "__main__":
    main()
