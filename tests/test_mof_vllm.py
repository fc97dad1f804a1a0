"""MoF checkpoints through a real vLLM server: parity with transformers (all four mixings), the
lmms-eval CLI, weight-loading refusals, the key's hygiene and the server's lifecycle (Ctrl-C,
SIGKILL, two runs at once). Marked slow: about 10 server start-ups of 35-60 s on 2 CPU cores.

Needs the CPU vLLM environment (``bash .ci/vllm-env``, which .ci/run builds from the lock)::

    MMVP_TEST_VLLM_PYTHON=.venv-vllm/bin/python .venv/bin/python -m pytest tests/test_mof_vllm.py

Without it the tests skip, except in CI (``CI=true``), where they fail. The variable is not
``MMVP_VLLM_PYTHON`` so that the other tests' ``mof_llava`` runs stay on transformers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from lmms_mmvp import results
from tests.support.cli import run_evaluation
from tests.support.mof import MIXINGS, images
from tests.support.vllm_runs import group_alive, group_gone, start_logged, wait_for_ready_server

pytestmark = pytest.mark.slow
PARITY_MIXINGS = MIXINGS
PROMPTS = [
    "Is the arrow pointing up or down?\n(a) Up\n(b) Down",
    "Which side is the circle on? Answer with the option's letter from the given choices directly.",
    "What colour is the square?",
    "Open or closed?",
]
GEN_KWARGS = {"max_new_tokens": 8, "temperature": 0, "until": ["\n\n"]}
CPU_OPTIONS = {"dtype": "float32", "enforce_eager": True, "gpu_memory_utilization": 0.3}
CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
TEST_KEY_ENV = "MMVP_TEST_VLLM_KEY"


@pytest.fixture(scope="module")
def vllm_python() -> str:
    python = os.environ.get("MMVP_TEST_VLLM_PYTHON")
    if python and Path(python).is_file():
        return python
    message = "no vLLM environment: set MMVP_TEST_VLLM_PYTHON (bash .ci/vllm-env builds one)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def trained(synthetic_train_dir, tmp_path_factory):
    """``trained(mixing, steps)``: ``final/`` of a short ``mof_models.train`` run (debug config:
    tiny towers, Llama with head_dim 64), built once per module."""
    from lmms_mmvp.demo import train_tiny_checkpoint

    data = synthetic_train_dir.mmvp_dir
    root = tmp_path_factory.mktemp("mof_vllm")

    def build(mixing: str, steps: int = 4) -> Path:
        return train_tiny_checkpoint(
            root / f"{mixing}-{steps}", data / "train.json", data, mixing=mixing, steps=steps,
            **{"training.disable_tqdm": True, "training.logging_steps": steps},
        )  # fmt: skip

    return build


@pytest.fixture(scope="module", params=PARITY_MIXINGS)
def served(request, trained, vllm_python):
    """``(checkpoint, server)``: one server at a time, each mixing's checkpoint."""
    from model_adapters.vllm_server import VllmServer

    checkpoint = trained(request.param)
    with VllmServer(str(checkpoint), python=vllm_python, options=CPU_OPTIONS, env=CPU_ENV) as s:
        yield checkpoint, s
    assert not s.run_dir.exists()  # log and options go with a server that ran fine


def _requests(prompts, gen_kwargs):
    docs = [{"image": image} for image in images(len(prompts))]
    requests = [
        SimpleNamespace(args=(p, dict(gen_kwargs), lambda doc: [doc["image"]], i, "task", "test"))
        for i, p in enumerate(prompts)
    ]
    return requests, {"task": {"test": docs}}


def _adapters(checkpoint, server, monkeypatch):
    from model_adapters.mof_llava import MofTransformersAdapter, MofVllmAdapter

    monkeypatch.setenv(TEST_KEY_ENV, server.api_key)
    vllm = MofVllmAdapter(
        str(checkpoint), base_url=server.base_url, api_key_env=TEST_KEY_ENV, use_cache=False,
        concurrency=4,
    )  # fmt: skip
    hf = MofTransformersAdapter(str(checkpoint), device="cpu", dtype="float32")
    return vllm, hf


def test_greedy_answers_equal_transformers(served, monkeypatch):
    checkpoint, server = served
    vllm, hf = _adapters(checkpoint, server, monkeypatch)
    requests, task_dict = _requests(PROMPTS, GEN_KWARGS)
    vllm.task_dict = hf.task_dict = task_dict
    answers = vllm.generate_until(requests)
    assert [_complete_characters(a) for a in hf.generate_until(requests)] == answers
    assert vllm.totals["answered"] == len(PROMPTS) and vllm.totals["failed"] == 0


def _complete_characters(text: str) -> str:
    """Text without a trailing run of U+FFFD. A barely trained byte-level model can end on
    tokens that are part of a UTF-8 character: transformers decodes each as U+FFFD, vLLM's
    incremental detokenizer holds them back and never emits them. The token ids are equal (next
    test); real answers are complete characters."""
    return text.rstrip("\ufffd")


def test_greedy_tokens_and_first_logprob_equal_transformers(served):
    """Token ids (not text), request by request, all of them: as each engine stops (at most 6
    tokens, or the end of sequence) with the first token's log-probability, and 6 tokens with
    the end of sequence held back (both engines mask it alike), so that a model that answers
    nothing at once is compared on 6 tokens too."""
    import torch
    from openai import OpenAI

    from model_adapters.api_adapter import encode_png
    from model_adapters.mof_llava import MofTransformersAdapter

    checkpoint, server = served
    hf = MofTransformersAdapter(str(checkpoint), device="cpu", dtype="float32")
    client = OpenAI(base_url=server.base_url, api_key=server.api_key)
    for prompt, image in zip(PROMPTS, images(len(PROMPTS)), strict=True):
        inputs = hf._inputs([prompt], [[image]])
        url = f"data:image/png;base64,{encode_png(image)}"
        content = [
            {"type": "image_url", "image_url": {"url": url}},
            {"type": "text", "text": prompt},
        ]
        for min_tokens in (0, 6):
            with torch.inference_mode():
                out = hf.model.generate(
                    **inputs, max_new_tokens=6, min_new_tokens=min_tokens, do_sample=False,
                    output_scores=True, return_dict_in_generate=True,
                )  # fmt: skip
            hf_ids = out.sequences[0, inputs["input_ids"].shape[1] :].tolist()
            reply = client.chat.completions.create(
                model=str(checkpoint), messages=[{"role": "user", "content": content}],
                max_completion_tokens=6, temperature=0, logprobs=True,
                extra_body={"return_tokens_as_token_ids": True, "min_tokens": min_tokens},
            ).choices[0]  # fmt: skip
            vllm_ids = [int(t.token.removeprefix("token_id:")) for t in reply.logprobs.content]
            assert vllm_ids == hf_ids
            if min_tokens:
                assert len(vllm_ids) == 6
            else:  # the model's own distribution (no token held back)
                hf_first = out.scores[0][0].log_softmax(-1)[hf_ids[0]].item()
                assert abs(reply.logprobs.content[0].logprob - hf_first) < 1e-3


def _group_processes(pgid: int) -> list[int]:
    """Every process of the server's process group (the API server and vLLM's engine)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            found.append(int(stat.parent.name))
    return found


def test_the_key_is_in_no_command_line_environment_file_or_log(served):
    """Read from /proc, as another local user's ``ps`` would (or a child that inherits an
    environment): every process of the server's group, then its run directory and log."""
    _, server = served
    key = server.api_key.encode()
    processes = _group_processes(server.pid)
    assert server.pid in processes and len(processes) >= 2  # the API server and its engine
    for pid in processes:
        for part in ("cmdline", "environ"):
            assert key not in Path(f"/proc/{pid}/{part}").read_bytes(), (pid, part)
    assert server.api_key not in os.environ.values()  # nothing this process's children inherit
    assert oct(server.run_dir.stat().st_mode & 0o777) == "0o700"
    assert [p.name for p in server.run_dir.iterdir()] == ["server.log"]  # options file gone
    assert key not in server.log_path.read_bytes()


def test_loglikelihoods_equal_transformers(served, monkeypatch):
    checkpoint, server = served
    vllm, hf = _adapters(checkpoint, server, monkeypatch)
    targets = ["a photo of an arrow pointing up", "a photo of (b) Down", "Open"]
    requests, task_dict = _requests(["", "Which side?", "Open or closed?"], {})
    for request, target in zip(requests, targets, strict=True):
        request.args = (request.args[0], target, *request.args[2:])
    vllm.task_dict = hf.task_dict = task_dict
    scores = vllm.loglikelihood(requests)
    reference = hf.loglikelihood(requests)
    for (score, greedy), (ref_score, ref_greedy) in zip(scores, reference, strict=True):
        assert abs(score - ref_score) < 1e-3 and greedy == ref_greedy


# -------------------------------------------------------------------- lmms-eval end to end


def _lmms_eval(checkpoint, output, limit, backend, vllm_python):
    from lmms_mmvp.demo import lmms_eval_command

    command = lmms_eval_command(checkpoint, "mmvp,mmvp_vlm", output, limit, model="mof_llava")
    args = command.index("--model_args") + 1
    command[args] += f",backend={backend}" + (f",vllm_python={vllm_python}" if vllm_python else "")
    if backend == "vllm":
        command[args] += f",cache_dir={output / 'cache'}"
    return command


@pytest.fixture(scope="module")
def e2e_env(synthetic_data):
    env = {**os.environ, **CPU_ENV, "MMVP_DATA_DIR": str(synthetic_data.mmvp_dir),
           "MMVP_VLM_DATA_DIR": str(synthetic_data.mmvp_vlm_dir)}  # fmt: skip
    env.pop("MMVP_PATTERNS_CSV", None)
    env.pop("MMVP_VLLM_PYTHON", None)
    return env


def test_cli_run_through_vllm_matches_transformers(trained, vllm_python, e2e_env, tmp_path):
    """``lmms-eval --model mof_llava`` on mmvp and mmvp_vlm: backend=vllm (a server started and
    stopped by the run) against backend=hf on the same checkpoint."""
    checkpoint = trained("interleave", steps=30)
    runs = {}
    for backend in ("vllm", "hf"):
        output = tmp_path / backend
        command = _lmms_eval(checkpoint, output, 40, backend, vllm_python)
        runs[backend] = run_evaluation(command, output, env=e2e_env, timeout=900)
    (vllm_data, _, log), (hf_data, _, _) = runs["vllm"], runs["hf"]
    assert "mof_llava: vllm backend" in log and "vLLM server ready" in log
    answers = {b: _samples(p, "mmvp", "filtered_resps") for b, (_, p, _) in runs.items()}
    assert answers["vllm"] == answers["hf"] and len(answers["hf"]) == 40
    scores = {b: _samples(p, "mmvp_vlm", "mmvp_vlm_average") for b, (_, p, _) in runs.items()}
    assert len(scores["hf"]) == 40
    for vllm_record, hf_record in zip(scores["vllm"], scores["hf"], strict=True):
        assert abs(vllm_record["match_score"] - hf_record["match_score"]) < 1e-3
    for task in ("mmvp", "mmvp_vlm"):
        assert vllm_data["results"][task] == hf_data["results"][task]
    assert vllm_data["results"]["mmvp"]["mmvp_failed_requests,none"] == 0


def _samples(results_file: Path, task: str, field: str) -> list:
    (path,) = results_file.parent.glob(f"*_samples_{task}.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [row[field] for row in sorted(rows, key=lambda r: r["doc_id"])]


# -------------------------------------------------------------------- lifecycle


def test_bad_checkpoint_gives_the_log_tail_and_leaves_no_process(tmp_path, vllm_python):
    from model_adapters.vllm_server import VllmServer, VllmServerError

    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text('{"model_type": "mof_llava", "mixing": "blend"}')
    server = VllmServer(str(checkpoint), python=vllm_python, options=CPU_OPTIONS, env=CPU_ENV,
                        log_path=tmp_path / "server.log")  # fmt: skip
    with pytest.raises(VllmServerError, match=r"exited with code \d+ before it was ready") as err:
        server.start()
    assert "mixing must be one of" in str(err.value)  # the server's own error, from its log
    assert server.process is None and group_gone(server.pid)


def test_a_checkpoint_missing_a_tensor_is_refused_naming_it(trained, vllm_python, tmp_path):
    """vLLM loads every tensor itself: a checkpoint without the DINOv2 adapter never serves."""
    from safetensors.torch import load_file, save_file

    from model_adapters.vllm_server import VllmServer, VllmServerError

    broken = Path(shutil.copytree(trained("interleave"), tmp_path / "no-dino-adapter"))
    tensors = load_file(broken / "model.safetensors")
    kept = {k: v for k, v in tensors.items() if not k.startswith("dino_projector.")}
    save_file(kept, broken / "model.safetensors", metadata={"format": "pt"})
    server = VllmServer(str(broken), python=vllm_python, options=CPU_OPTIONS, env=CPU_ENV,
                        log_path=tmp_path / "server.log")  # fmt: skip
    with pytest.raises(VllmServerError, match="before it was ready"):
        server.start()
    log = server.log_path.read_text()  # kept after a failure, named in the error
    refusal = next(line for line in log.splitlines() if "not initialized from checkpoint" in line)
    for name in ("linear_1.weight", "linear_1.bias", "linear_2.weight", "linear_2.bias"):
        assert f"dino_projector.{name}" in refusal
    assert group_gone(server.pid)


def _cached_answers(cache_dir: Path) -> int:
    """Replies in the run's cache (read-only: never creates it under the run)."""
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{cache_dir / 'responses.sqlite'}?mode=ro", uri=True)
        try:
            return db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_two_runs_at_once_and_ctrl_c_mid_run(trained, vllm_python, e2e_env, tmp_path):
    """Two lmms-eval runs with backend=vllm at once, each with its own server (port, key, run
    directory); one finishes with every answer, the other gets Ctrl-C (SIGINT) mid-run: it stops,
    its server and run directory go, and the answers it had received stay cached."""
    checkpoint = trained("interleave")
    runs = {}
    for name, tasks, limit in (("short", "mmvp", 20), ("long", "mmvp,mmvp_vlm", None)):
        output = tmp_path / name
        command = _lmms_eval(checkpoint, output, limit, "vllm", vllm_python)
        command[command.index("--tasks") + 1] = tasks
        log_path = tmp_path / f"{name}.log"
        runs[name] = (start_logged(command, e2e_env, log_path), log_path, output)
    try:
        servers = {}
        for name, (process, log_path, _) in runs.items():
            pid = wait_for_ready_server(process, log_path)
            found = re.search(rf"server pid {pid} starting on (\S+) .*\(log: (\S+)\)",
                              log_path.read_text())  # fmt: skip
            servers[name] = (pid, found[1], Path(found[2]).parent)
        assert servers["short"][1] != servers["long"][1]  # two servers up at once, own ports
        short, _, short_output = runs["short"]
        assert short.wait(timeout=600) == 0
        results_file = results.newest_results_file(short_output)
        assert results.load(results_file)["results"]["mmvp"]["mmvp_failed_requests,none"] == 0
        assert len(_samples(results_file, "mmvp", "doc_id")) == 20

        long, long_log, long_output = runs["long"]
        deadline = time.monotonic() + 300
        while _cached_answers(long_output / "cache") < 5 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert long.poll() is None, "the long run ended before Ctrl-C"
        os.kill(long.pid, signal.SIGINT)
        long.wait(timeout=120)
        answered = _cached_answers(long_output / "cache")
        assert 5 <= answered < 840  # interrupted mid-run; what came back is kept for a re-run
        assert not list(long_output.rglob("*_results.json"))
        for name, (pid, _, run_dir) in servers.items():
            assert group_gone(pid), f"the {name} run's server outlived it"
            assert not run_dir.exists(), f"the {name} run left {run_dir}"
    finally:
        for process, _, _ in runs.values():
            if process.poll() is None:
                process.kill()


def test_killed_lmms_eval_leaves_no_server(trained, vllm_python, e2e_env, tmp_path):
    """SIGKILL to lmms-eval once its server is ready: the kernel stops the server (parent-death
    signal) and the server stops its engine processes."""
    command = _lmms_eval(trained("interleave"), tmp_path / "out", 4, "vllm", vllm_python)
    log_path = tmp_path / "lmms_eval.log"
    process = start_logged(command, e2e_env, log_path)
    server_pid = None
    try:
        server_pid = wait_for_ready_server(process, log_path)
        assert process.poll() is None, log_path.read_text()[-3000:]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert group_gone(server_pid), "the vLLM server outlived the killed lmms-eval"
        found = re.search(r"\(log: (\S+)\)", log_path.read_text())
        run_dir = Path(found[1]).parent  # nobody was left to remove it: the log, and no key
        assert [p.name for p in run_dir.iterdir()] == ["server.log"]
        shutil.rmtree(run_dir)
    finally:
        if process.poll() is None:
            process.kill()
        if server_pid and group_alive(server_pid):
            os.killpg(server_pid, signal.SIGKILL)  # the group this test started, by its id
