"""MMVP questions per second of ``mof_llava``: vLLM server vs transformers, one run, same model.

    MMVP_VLLM_PYTHON=.venv-vllm/bin/python .venv/bin/python benchmarks/bench_mof_vllm.py
    ... --questions 60 --mixing interleave --hf-batch-size 8 --concurrency 16

The model is a small but real-shaped I-MoF built from configs with random weights (36.4M
parameters): CLIP-like and DINOv2 towers of width 256, 6 layers, patch 14 at 224 px (256 tokens
each, 512 image tokens per question), a Llama of width 512, 8 layers, head_dim 64. Requests are
MMVP prompts with the synthetic set's images and the task's decoding (greedy, 16 new tokens), all
handed over at once: the vLLM backend keeps ``--concurrency`` in flight (vLLM batches them), the
transformers backend runs batches of ``--hf-batch-size``. Both run float32 on the CPU; the server
start-up is timed separately. Each backend answers two warm-up questions first (not timed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.mmvp_requests import mmvp_requests  # noqa: E402


def build_checkpoint(out_dir: Path, mixing: str) -> tuple[Path, int]:
    """Save the benchmark MoF (random weights) with its processor; ``(dir, parameters)``."""
    import torch
    from transformers import CLIPVisionConfig, Dinov2Config, LlamaConfig

    from mof_models.configuration_mof import CLIP_MIXINGS, DINO_MIXINGS, MofConfig
    from mof_models.modeling_mof import MofForConditionalGeneration
    from mof_models.processing_mof import IMAGE_TOKEN
    from mof_models.tiny import build_tokenizer, tiny_mof_processor

    tokenizer = build_tokenizer(2000)
    tower = dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=6,
                 num_attention_heads=4, image_size=224, patch_size=14)  # fmt: skip
    clip = CLIPVisionConfig(**tower, projection_dim=256)
    dino = Dinov2Config(**{k: v for k, v in tower.items() if k != "intermediate_size"}, mlp_ratio=4)
    text = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=512, intermediate_size=1376, num_hidden_layers=8,
        num_attention_heads=8, num_key_value_heads=8, head_dim=64, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    config = MofConfig(
        clip_config=clip if mixing in CLIP_MIXINGS else None,
        dino_config=dino if mixing in DINO_MIXINGS else None,
        text_config=text, mixing=mixing, image_size=224,
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
    )  # fmt: skip
    torch.manual_seed(0)
    model = MofForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tiny_mof_processor(config, tokenizer).save_pretrained(out_dir)
    return out_dir, sum(p.numel() for p in model.parameters())


def timed(adapter, requests, task_dict) -> tuple[float, list[str]]:
    adapter.task_dict = task_dict
    adapter.generate_until(requests[:2])  # warm-up
    started = time.perf_counter()
    answers = adapter.generate_until(requests)
    return time.perf_counter() - started, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--mixing", default="interleave")
    parser.add_argument("--hf-batch-size", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from model_adapters.mof_llava import MofTransformersAdapter, MofVllmAdapter, find_vllm_python
    from model_adapters.vllm_server import VllmServer

    python, _ = find_vllm_python(None)
    if python is None:
        sys.exit("set MMVP_VLLM_PYTHON to a vLLM environment's python (bash .ci/vllm-env)")
    work = Path(tempfile.mkdtemp(prefix="bench_mof_vllm_"))
    checkpoint, n_params = build_checkpoint(work / "model", args.mixing)
    requests, _, task_dict = mmvp_requests(args.questions, work / "data")
    rows = []

    hf = MofTransformersAdapter(str(checkpoint), device="cpu", dtype="float32",
                                batch_size=args.hf_batch_size)  # fmt: skip
    hf_s, hf_answers = timed(hf, requests, task_dict)
    rows.append(("transformers (backend=hf)", f"batch {args.hf_batch_size}", hf_s))
    del hf

    options = {"dtype": "float32", "enforce_eager": True, "gpu_memory_utilization": 0.3}
    env = {"VLLM_CPU_KVCACHE_SPACE": "2", "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    with VllmServer(str(checkpoint), python=python, options=options, env=env) as server:
        startup_s = time.perf_counter() - started
        os.environ["BENCH_VLLM_KEY"] = server.api_key
        vllm = MofVllmAdapter(str(checkpoint), base_url=server.base_url,
                              api_key_env="BENCH_VLLM_KEY", use_cache=False,
                              concurrency=args.concurrency)  # fmt: skip
        vllm_s, vllm_answers = timed(vllm, requests, task_dict)
    rows.append(("vLLM server (backend=vllm)", f"{args.concurrency} in flight", vllm_s))

    # Random weights often end on tokens that are part of a UTF-8 character: transformers decodes
    # them as U+FFFD, vLLM holds them back (tests/test_mof_vllm.py compares the token ids).
    same = sum(a.rstrip("\ufffd") == b for a, b in zip(hf_answers, vllm_answers, strict=True))
    print(f"\n{args.mixing} MoF, {n_params / 1e6:.1f}M parameters, 224 px, {args.questions} "
          f"MMVP questions, float32, {os.cpu_count()} CPU cores\n")  # fmt: skip
    print("| backend | requests | seconds | questions/s |\n|---|---|---|---|")
    for name, mode, seconds in rows:
        print(f"| {name} | {mode} | {seconds:.1f} | {args.questions / seconds:.2f} |")
    print(f"\nvLLM server start-up (not included above): {startup_s:.0f} s")
    print(f"identical answers (trailing U+FFFD aside): {same}/{args.questions}; "
          f"speed-up {hf_s / vllm_s:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
