"""The README's "Comparing API models" example, produced for real on loopback servers:

    python -m tests.support.api_comparison OUT_DIR [--limit N]

three real ``lmms-eval`` runs of ``mmvp_ablation`` (``mmvp_openai``, ``mmvp_gemini``,
``mmvp_anthropic``), each against a 127.0.0.1 server speaking its provider's protocol, then
``mmvp report compare`` on the three results files. Prints the commands and the table.

Everything the servers answer is SIMULATED: the data are MMVP's 300 real questions with stand-in
images (one flat colour per question), and each simulated "model" answers a question right with a
fixed probability (a hash of provider and Index decides, the same for every prompt variant),
names its choice in its own style, and reports the token counts a real MMVP image would cost at
that provider; the simulated Claude refuses about 1 % of the questions. None of it measures a
model: it shows what the commands print.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.fake_api import (
    answer_body,
    claude_message,
    fake_server,
    image_bytes,
    prompt_text,
)

KEY = "simulated-key-not-a-secret"
OPTION_LINE = re.compile(r"^([A-Z]|\d+)\. (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Simulated:
    adapter: str
    model: str
    accuracy: float  # chance of answering a question right
    refusal_rate: float
    tokens: tuple[int, int]  # (input, output) per request, typical of a real MMVP image
    style: str  # how the choice is named: "{label}", "{label}. {text}", ...


SIMULATED = {
    "openai": Simulated("mmvp_openai", "gpt-4.1", 0.66, 0.0, (850, 1), "{label}"),
    "gemini": Simulated("mmvp_gemini", "gemini-2.5-flash", 0.70, 0.0, (345, 4), "{label}. {text}"),
    "anthropic": Simulated(
        "mmvp_anthropic", "claude-sonnet-5-5", 0.76, 0.01, (1690, 1), "{label}"
    ),  # fmt: skip
}


def write_data(root: Path) -> Path:
    """MMVP's real questions (package data) with one flat-colour stand-in image per question."""
    from PIL import Image

    from mmvp_tasks.data import SHIPPED_QUESTIONS

    images = root / "MMVP Images"
    images.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_QUESTIONS, root / "Questions.csv")
    for index in range(1, 301):
        colour = (index % 16 * 16, index // 16 * 12, 200 - index % 7 * 20)
        Image.new("RGB", (64, 64), colour).save(images / f"{index}.jpg", quality=95)
    return root


def _chance(*key) -> float:
    return int(hashlib.sha256(repr(key).encode()).hexdigest()[:8], 16) / 16**8


def _pixels(data: bytes) -> str:
    from PIL import Image

    return hashlib.sha256(Image.open(io.BytesIO(data)).convert("RGB").tobytes()).hexdigest()


def responder(kind: str, data_dir: Path):
    """The simulated model of ``kind``: finds the question by its image, answers by the key."""
    from PIL import Image

    from mmvp_tasks.answers import answer_label, parse_options
    from mmvp_tasks.data import read_questions

    sim = SIMULATED[kind]
    truth = {}  # image pixels -> (Index, text of the right option)
    for q in read_questions(data_dir):
        with Image.open(q.image_path) as image:
            pixels = hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()
        label = answer_label(q.correct_answer)
        truth[pixels] = (
            q.index,
            next(o.text for o in parse_options(q.options) if o.label == label),
        )

    def respond(path, body):
        index, right_text = truth[_pixels(image_bytes(kind, body))]
        if _chance(kind, "refuses", index) < sim.refusal_rate:
            refusal = {"type": "refusal", "category": None, "explanation": None}
            return 200, claude_message(None, "refusal", refusal=refusal), None
        options = OPTION_LINE.findall(prompt_text(kind, body))
        sees = _chance(kind, index) < sim.accuracy
        label, text = next((lb, t) for lb, t in options if (t == right_text) == sees)
        return 200, _with_usage(kind, answer_body(kind, sim.style.format(label=label, text=text)),
                                sim.tokens), None  # fmt: skip

    return respond


def _with_usage(kind: str, body: dict, tokens: tuple[int, int]) -> dict:
    tokens_in, tokens_out = tokens
    if kind == "openai":
        body["usage"] = {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                         "total_tokens": tokens_in + tokens_out}  # fmt: skip
    elif kind == "gemini":
        body["usageMetadata"] = {"promptTokenCount": tokens_in, "candidatesTokenCount": tokens_out,
                                 "totalTokenCount": tokens_in + tokens_out}  # fmt: skip
    else:
        body["usage"] = {"input_tokens": tokens_in, "output_tokens": tokens_out}
    return body


def user_command(kind: str, output: Path, limit: int | None) -> list[str]:
    """The command line a user runs (the real provider, key in the environment)."""
    sim = SIMULATED[kind]
    command = ["lmms-eval", "--model", sim.adapter, "--model_args", f"model={sim.model}",
               "--tasks", "mmvp_ablation", "--output_path", str(output),
               "--log_samples"]  # fmt: skip
    return command + (["--limit", str(limit)] if limit else [])


def main(out_dir: str, limit: int | None = None) -> None:
    out = Path(out_dir).resolve()
    data_dir = write_data(out / "data")
    env = {**os.environ, "MMVP_DATA_DIR": str(data_dir)}
    env.update({f"{name}_API_KEY": KEY for name in ("OPENAI", "GEMINI", "ANTHROPIC")})
    runs = []
    for kind, sim in SIMULATED.items():
        command = user_command(kind, Path("runs"), limit)  # run in OUT_DIR: paths as typed
        print("$ " + " ".join(command), flush=True)
        with fake_server(kind, responder(kind, data_dir), key=KEY) as server:
            # as typed, plus the loopback endpoint and a fresh cache
            args = f"model={sim.model},base_url={server.url_for(kind)},cache_dir={out / 'cache'}"
            command[command.index("--model_args") + 1] = args
            completed = subprocess.run(
                [sys.executable, "-m", "lmms_eval", *command[1:]],
                env=env, cwd=out, capture_output=True, text=True,
            )  # fmt: skip
        results = sorted((out / "runs" / sim.model).glob("*_results.json"))  # lmms-eval's layout
        if completed.returncode or not results:
            sys.exit(f"{sim.adapter} failed:\n{completed.stdout[-3000:]}{completed.stderr[-3000:]}")
        runs.append(f"{sim.model}={results[-1].relative_to(out)}")
    compare = ["mmvp", "report", "compare", *runs]
    print("$ " + " ".join(compare), flush=True)
    subprocess.run([sys.executable, "-m", "lmms_mmvp.cli", *compare[1:]], env=env, cwd=out,
                   check=True)  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--limit", type=int)
    parsed = parser.parse_args()
    main(parsed.out_dir, parsed.limit)
