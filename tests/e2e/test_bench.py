"""End-to-end test of `rkchat bench`: the table, the Markdown report and the JSON with its agreed field names."""
import json
import subprocess

import pytest

RESULT_FIELDS = {"model", "file", "size_bytes", "backend", "threads", "load_s", "prompt_tokens", "prefill_tok_s",
                 "ttft_s", "gen_tokens", "decode_tok_s", "peak_rss_bytes", "bandwidth_gb_s", "roofline_pct",
                 "repetitions", "depth", "kv_bytes_read"}


def bench(rkchat_bin, *args):
    proc = subprocess.run([rkchat_bin, "bench", *map(str, args)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def synth_model(rkchat_bin, tmp_path_factory):
    """The synthetic Qwen3-shaped model of `rkchat synth` (the smallest size it offers)."""
    path = tmp_path_factory.mktemp("synth") / "synth-tiny.gguf"
    proc = subprocess.run([rkchat_bin, "synth", "--size", "tiny", "-o", str(path)], capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        pytest.skip(f"rkchat synth --size tiny failed: {proc.stderr.strip()[:200]}")
    return path


def check_outputs(proc, md, js, models):
    assert "decode tok/s" in proc.stdout
    assert "run 2/2" in proc.stderr  # progress
    report = json.loads(js.read_text())
    assert set(report) >= {"rkchat_version", "machine", "results"}
    assert report["machine"]["cores"] >= 1
    assert len(report["results"]) == len(models)
    for result, model in zip(report["results"], models):
        assert set(result) - {"prompt_runs"} == RESULT_FIELDS
        assert result["file"] == str(model)
        assert result["repetitions"] == 2
        assert result["prompt_tokens"] == 16 and result["gen_tokens"] == 8
        assert result["decode_tok_s"] > 0 and result["prefill_tok_s"] > 0
        assert result["peak_rss_bytes"] > 0 and result["bandwidth_gb_s"] > 0
        assert model.name in proc.stdout
    text = md.read_text()
    assert "## Machine" in text and "## Results" in text and "| decode tok/s |" in text


def test_bench_fixture_models_with_prompts(rkchat_bin, fixtures_dir, tmp_path):
    models = [fixtures_dir / "tiny-qwen3-q8_0.gguf", fixtures_dir / "tiny-llama-f32.gguf"]
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("What is AI?\nExplain deep learning.\n")
    md, js = tmp_path / "report.md", tmp_path / "report.json"
    args = [x for m in models for x in ("-m", m)]
    proc = bench(rkchat_bin, *args, "--prompt-tokens", 16, "--gen-tokens", 8, "-r", 2, "-t", 1, "--prompts", prompts,
                 "-n", 8, "--markdown", md, "--json", js)
    check_outputs(proc, md, js, models)
    runs = json.loads(js.read_text())["results"][0]["prompt_runs"]
    assert [r["prompt"] for r in runs] == ["What is AI?", "Explain deep learning."]
    assert "## Realistic prompts" in md.read_text() and "**Average**" in md.read_text()


def test_bench_synthetic_model(rkchat_bin, synth_model, tmp_path):
    md, js = tmp_path / "report.md", tmp_path / "report.json"
    proc = bench(rkchat_bin, "-m", synth_model, "--prompt-tokens", 16, "--gen-tokens", 8, "-r", 2, "--markdown", md,
                 "--json", js)
    check_outputs(proc, md, js, [synth_model])


def test_bench_without_models_fails(rkchat_bin):
    proc = subprocess.run([rkchat_bin, "bench"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "-m MODEL" in proc.stderr


def test_bench_parallel_json(rkchat_bin, fixtures_dir, tmp_path):
    """--parallel: one object per N with the agreed fields; the steady decode window and the whole run measured."""
    js = tmp_path / "parallel.json"
    proc = bench(rkchat_bin, "-m", fixtures_dir / "tiny-qwen3-q8_0.gguf", "-t", 1, "--parallel", "1,3",
                 "--prompt-tokens", 16, "--gen-tokens", 12, "--long-prompt-tokens", 96, "--batch-tokens", 32,
                 "-r", 2, "--json", js)
    assert "aggregate t/s" in proc.stdout and "whole run t/s" in proc.stdout
    rows = json.loads(js.read_text())["parallel"]
    assert [r["parallel"] for r in rows] == [1, 3]
    for r in rows:
        assert {"aggregate_decode_tok_s", "per_stream_decode_tok_s", "ttft_ms", "max_gap_ms"} <= set(r)
        assert r["aggregate_decode_tok_s"] > 0 and r["whole_run_tok_s"] > 0 and r["ttft_ms"] > 0
        assert r["max_gap_ms"] >= 0 and r["long_prompt_tokens"] == 96
        # every stream decodes through the window, so the aggregate is about N times a stream's share
        assert r["aggregate_decode_tok_s"] == pytest.approx(r["parallel"] * r["per_stream_decode_tok_s"], rel=0.5)
