"""Training-step cost of the MoF mixing modes on CPU, as ratios to plain LLaVA (``clip_only``).

    .venv/bin/python benchmarks/bench_mof_training.py [--stage 2] [--rounds 5]

Size (small but real, random weights): CLIP-like ViT-B/14 and DINOv2 ViT-B/14 towers (width 768,
12 layers, 224 px -> 16x16 = 256 patch tokens each), a Llama LM of width 768 with 6 layers and a
32000-token vocabulary (~92M parameters), batch 1: one image + 48 text tokens (the last 8
learned). Stage 2 by default: LM and adapters train, towers frozen (forward only).

Timing, made robust for a shared 2-core machine: one torch thread, and *CPU time* of that thread
(``time.process_time``), which other processes on the machine barely change (wall time under
load did, by 2-3x). The three models live in one process and take turns step by step (``rounds``
steps each after a warm-up). Forward + backward (what the FLOPs describe) is timed apart from the
optimizer step (the same ~92M parameters in every mode); ratios use the minimum over rounds, the
median is shown too. FLOPs of forward + backward are counted with
``torch.utils.flop_counter.FlopCounterMode`` (matmuls and attention). Peak RSS comes from a fresh
process per mode (one step). If ``interleave`` has no avoidable overhead (CPU round-trips, Python
loops over tokens), its forward+backward time ratio to ``clip_only`` matches its FLOP ratio, i.e.
its achieved GFLOP/s is the same.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

MODES = ("clip_only", "additive", "interleave")
BATCH, TEXT_TOKENS, ANSWER_TOKENS, VOCAB = 1, 48, 8, 32000


def build_model(mixing: str):
    import torch
    from transformers import CLIPVisionConfig, Dinov2Config, LlamaConfig

    from mof_models.configuration_mof import MofConfig
    from mof_models.modeling_mof import MofForConditionalGeneration

    tower = dict(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, image_size=224, patch_size=14
    )
    clip = CLIPVisionConfig(intermediate_size=3072, projection_dim=512, **tower)
    dino = Dinov2Config(mlp_ratio=4, **tower)
    text = LlamaConfig(
        vocab_size=VOCAB, hidden_size=768, intermediate_size=2048, num_hidden_layers=6,
        num_attention_heads=12, num_key_value_heads=12, max_position_embeddings=2048,
    )  # fmt: skip
    config = MofConfig(
        clip_config=clip if mixing != "dino_only" else None,
        dino_config=dino if mixing != "clip_only" else None,
        text_config=text,
        mixing=mixing,
        image_size=224,
        image_token_id=VOCAB - 1,
    )
    torch.manual_seed(0)
    return MofForConditionalGeneration(config)


def make_batch(config):
    import torch

    n_image = config.num_image_tokens
    g = torch.Generator().manual_seed(0)
    text = torch.randint(2, VOCAB - 1, (BATCH, TEXT_TOKENS), generator=g)
    image = torch.full((BATCH, n_image), config.image_token_id)
    input_ids = torch.cat((text[:, :8], image, text[:, 8:]), dim=1)  # prompt, image, rest
    labels = torch.full_like(input_ids, -100)
    labels[:, -ANSWER_TOKENS:] = input_ids[:, -ANSWER_TOKENS:]
    pixel_values = torch.randn(BATCH, 3, 224, 224, generator=g)
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "labels": labels,
        "pixel_values": pixel_values,
        "use_cache": False,
    }


def training_step_fn(mixing: str, stage: int):
    """``(step, batch, model)``: ``step()`` runs one optimizer step of ``mixing`` on a fixed
    batch and returns the CPU seconds of forward + backward and of the optimizer step."""
    import torch

    torch.set_num_threads(1)

    from mof_models.train import configure_trainable

    model = configure_trainable(build_model(mixing), stage).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    batch = make_batch(model.config)

    def step() -> tuple[float, float]:
        start = time.process_time()
        model(**batch).loss.backward()
        middle = time.process_time()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return middle - start, time.process_time() - middle

    return step, batch, model


def step_flops(model, batch) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def time_modes(stage: int, rounds: int) -> dict[str, dict]:
    """All modes in this process, alternating step by step."""
    steps = {mode: training_step_fn(mode, stage) for mode in MODES}
    for step, _, _ in steps.values():
        step()  # warm-up: allocator, optimizer state
    times = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode, (step, _, _) in steps.items():
            times[mode].append(step())
    return {
        mode: {
            "fwd_bwd_min": min(f for f, _ in times[mode]),
            "fwd_bwd_median": statistics.median(f for f, _ in times[mode]),
            "optimizer": statistics.median(o for _, o in times[mode]),
            "step_min": min(f + o for f, o in times[mode]),
            "flops": step_flops(model, batch),
            "seq_len": batch["input_ids"].shape[1],
        }
        for mode, (_, batch, model) in steps.items()
    }


def peak_rss(mixing: str, stage: int) -> dict:
    """Child process: build, one step; peak RSS and RSS after building."""
    step, _, _ = training_step_fn(mixing, stage)
    built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    step()
    return {
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "built": built,
    }


def summarise(timings: dict, memory: dict) -> list[dict]:
    rows = []
    for mode in MODES:
        t, m = timings[mode], memory[mode]
        rows.append(
            {
                "mode": mode,
                "seq_len": t["seq_len"],
                "samples_per_s": BATCH / t["step_min"],
                "fwd_bwd_min": t["fwd_bwd_min"],
                "fwd_bwd_median": t["fwd_bwd_median"],
                "optimizer": t["optimizer"],
                "gflop": t["flops"] / 1e9,
                "gflops_per_s": t["flops"] / 1e9 / t["fwd_bwd_min"],
                "peak_rss_mb": m["peak_rss_mb"],
                "step_mem_mb": m["peak_rss_mb"] - m["built"],
            }
        )
    base = rows[0]
    for row in rows:
        row["time_ratio"] = row["fwd_bwd_min"] / base["fwd_bwd_min"]
        row["median_ratio"] = row["fwd_bwd_median"] / base["fwd_bwd_median"]
        row["flop_ratio"] = row["gflop"] / base["gflop"]
    return rows


COLUMNS = (  # (header, key, format)
    ("mode", "mode", "<11"),
    ("tokens", "seq_len", ">6"),
    ("samples/s", "samples_per_s", ">9.3f"),
    ("fwd+bwd CPU s min", "fwd_bwd_min", ">17.2f"),
    ("median", "fwd_bwd_median", ">6.2f"),
    ("optim s", "optimizer", ">7.2f"),
    ("GFLOP", "gflop", ">6.1f"),
    ("GFLOP/s", "gflops_per_s", ">7.1f"),
    ("peak RSS MB", "peak_rss_mb", ">11.0f"),
    ("step MB", "step_mem_mb", ">7.0f"),
    ("time ratio", "time_ratio", ">10.2f"),
    ("(median)", "median_ratio", ">8.2f"),
    ("FLOP ratio", "flop_ratio", ">10.2f"),
)


def format_table(rows: list[dict]) -> str:
    header = " ".join(f"{h:{f[0]}{len(format(rows[0][k], f))}}" for h, k, f in COLUMNS)
    lines = [header, "-" * len(header)]
    lines += [" ".join(format(row[k], f) for _, k, f in COLUMNS) for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", type=int, default=2, choices=(1, 2))
    parser.add_argument("--rounds", type=int, default=5, help="timed steps per mode")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)  # child: peak RSS of one mode
    args = parser.parse_args()
    if args.memory_of:
        print(json.dumps(peak_rss(args.memory_of, args.stage)))
        return 0
    memory = {}
    for mode in MODES:
        command = [sys.executable, __file__, "--memory-of", mode, "--stage", str(args.stage)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        memory[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    import torch

    timings = time_modes(args.stage, args.rounds)
    print(
        f"stage {args.stage}, batch {BATCH}, {args.rounds} timed steps per mode (alternating), "
        f"{torch.get_num_threads()} torch thread, CPU time; samples/s from the fastest whole step\n"
    )
    print(format_table(summarise(timings, memory)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
