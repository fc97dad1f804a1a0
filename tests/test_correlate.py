"""``mmvp correlate`` on hand-made lmms-eval results files with a known Pearson r."""

from __future__ import annotations

import argparse
import json
import math
import statistics

import pytest

from lmms_mmvp import correlate
from lmms_mmvp.correlate import CorrelationInputError
from mmvp_tasks.patterns import PATTERNS

# The paper's OpenAI ViT-L/14 MMVP-VLM row (Table 1), pattern order as PATTERNS.
CLIP_L14 = [13.3, 13.3, 20.0, 20.0, 13.3, 53.3, 20.0, 6.7, 13.3]
MLLM_A = [0.20, 0.10, 0.30, 0.25, 0.20, 0.60, 0.20, 0.05, 0.15]  # fractions, as mmvp reports
MLLM_B = [0.40, 0.45, 0.30, 0.35, 0.50, 0.30, 0.40, 0.60, 0.35]


def _encoder_results(values, model_args="pretrained=openai/clip-vit-large-patch14,device=cpu"):
    scores = {f"mmvp_vlm_{p.slug},none": v for p, v in zip(PATTERNS, values, strict=True)}
    return {
        "results": {"mmvp_vlm": {"alias": "mmvp_vlm", "mmvp_vlm_average,none": 19.3, **scores}},
        "config": {"model": "mmvp_clip", "model_args": model_args},
    }


def _mllm_results(values, task="mmvp"):
    scores = {
        f"mmvp_pair_accuracy_{p.slug}_unofficial,none": v
        for p, v in zip(PATTERNS, values, strict=True)
    }
    scores["mmvp_pair_accuracy,none"] = 0.25
    return {"results": {task: scores}, "config": {"model": "mmvp_llava", "model_args": ""}}


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def _run(*argv):
    parser = argparse.ArgumentParser(prog="mmvp")
    correlate.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["correlate", *argv])
    return args.run(args)


def test_pearson_r_matches_the_definition(tmp_path):
    encoder = correlate.read_series(
        _write(tmp_path, "clip.json", _encoder_results(CLIP_L14)),
        None,
        correlate.ENCODER_TASK,
        correlate.ENCODER_METRIC,
        correlate.ENCODER_SCALE,
    )
    mllm = correlate.read_series(
        _write(tmp_path, "llava.json", _mllm_results(MLLM_A)),
        "LLaVA",
        correlate.MLLM_TASK,
        correlate.MLLM_METRIC,
        correlate.MLLM_SCALE,
    )
    assert encoder.name == "clip-vit-large-patch14"
    assert mllm.scores["ca"] == pytest.approx(60.0)  # fractions scaled to the encoder's 0-100
    result = correlate.pearson(encoder, mllm)
    expected_r = statistics.correlation(CLIP_L14, [100 * v for v in MLLM_A])
    assert result.r == pytest.approx(expected_r) and expected_r > 0.9
    assert result.n_patterns == 9
    # two-sided p of r with n - 2 degrees of freedom
    from scipy.stats import t

    t_stat = expected_r * math.sqrt(7 / (1 - expected_r**2))
    assert result.p_value == pytest.approx(2 * t.sf(t_stat, 7))


def test_perfectly_linear_scores_give_r_1(tmp_path):
    encoder = _write(tmp_path, "clip.json", _encoder_results(CLIP_L14))
    mllm = _write(tmp_path, "m.json", _mllm_results([0.1 + v / 200 for v in CLIP_L14]))
    series = [
        correlate.read_series(encoder, None, "mmvp_vlm", correlate.ENCODER_METRIC, 1.0),
        correlate.read_series(mllm, "m", "mmvp", correlate.MLLM_METRIC, 100.0),
    ]
    assert correlate.pearson(*series).r == pytest.approx(1.0)


def test_command_prints_r_p_and_n_and_saves_png_and_svg(tmp_path, capsys):
    encoder = _write(tmp_path, "clip.json", _encoder_results(CLIP_L14))
    a = _write(tmp_path, "a.json", _mllm_results(MLLM_A))
    b = _write(tmp_path, "b.json", _mllm_results(MLLM_B))
    png, svg = tmp_path / "charts" / "corr.png", tmp_path / "charts" / "corr.svg"
    status = _run("--encoder", f"CLIP-L/14={encoder}", "--mllm", f"A={a}", "--mllm", f"B={b}",
                  "--out", str(png), "--out", str(svg))  # fmt: skip
    assert status == 0
    out = capsys.readouterr().out
    r_a = statistics.correlation(CLIP_L14, MLLM_A)
    r_b = statistics.correlation(CLIP_L14, MLLM_B)
    assert f"r = {r_a:+.3f}" in out and f"r = {r_b:+.3f}" in out
    assert out.count("n = 9") == 2
    assert "Orientation and Direction" in out and "CLIP-L/14" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()


def test_missing_per_pattern_numbers_are_a_clear_error(tmp_path, capsys):
    """mmvp without a pattern mapping reports NaN per pattern (JSON NaN)."""
    encoder = _write(tmp_path, "clip.json", _encoder_results(CLIP_L14))
    nan = _write(tmp_path, "nan.json", _mllm_results([math.nan] * 9))
    assert (
        _run("--encoder", str(encoder), "--mllm", f"m={nan}", "--out", str(tmp_path / "c.png")) == 2
    )
    err = capsys.readouterr().err
    assert "nan.json (mmvp): no per-pattern numbers" in err
    assert "mmvp_pair_accuracy_*_unofficial" in err
    assert not (tmp_path / "c.png").exists()


def test_a_results_file_without_the_task_names_the_tasks_it_has(tmp_path):
    path = _write(tmp_path, "other.json", _mllm_results(MLLM_A, task="mmvp_official"))
    with pytest.raises(CorrelationInputError, match=r"no results for task 'mmvp'.*mmvp_official"):
        correlate.read_series(path, "m", "mmvp", correlate.MLLM_METRIC, 100.0)


def test_different_pattern_sets_are_refused(tmp_path):
    partial = MLLM_A[:8] + [math.nan]
    encoder = _write(tmp_path, "clip.json", _encoder_results(CLIP_L14))
    mllm = _write(tmp_path, "m.json", _mllm_results(partial))
    series = [
        correlate.read_series(encoder, None, "mmvp_vlm", correlate.ENCODER_METRIC, 1.0),
        correlate.read_series(mllm, "m", "mmvp", correlate.MLLM_METRIC, 100.0),
    ]
    with pytest.raises(CorrelationInputError, match="different pattern sets") as err:
        correlate.pearson(*series)
    assert "Viewpoint and Perspective" in str(err.value)


def test_constant_scores_have_no_correlation(tmp_path):
    encoder = _write(tmp_path, "clip.json", _encoder_results(CLIP_L14))
    flat = _write(tmp_path, "flat.json", _mllm_results([0.0] * 9))
    series = [
        correlate.read_series(encoder, None, "mmvp_vlm", correlate.ENCODER_METRIC, 1.0),
        correlate.read_series(flat, "m", "mmvp", correlate.MLLM_METRIC, 100.0),
    ]
    with pytest.raises(CorrelationInputError, match="same score for every pattern"):
        correlate.pearson(*series)


def test_open_clip_runs_are_named_by_architecture_and_tag(tmp_path):
    args = "model_name=ViT-H-14-quickgelu,pretrained=dfn5b"
    path = _write(tmp_path, "dfn.json", _encoder_results(CLIP_L14, model_args=args))
    series = correlate.read_series(path, None, "mmvp_vlm", correlate.ENCODER_METRIC, 1.0)
    assert series.name == "ViT-H-14-quickgelu dfn5b"
