"""The engine through the `rkchat logits` and `rkchat perplexity` commands, against llama.cpp's reference outputs
(../shared/fixtures) and a real trained model."""
import os
import re
import subprocess

import numpy as np
import pytest

MODELS = {
    "tiny-qwen3-f32": 1e-4, "tiny-llama-f32": 1e-4, "tiny-qwen2-f32": 1e-4, "tiny-qwen3-256-f32": 1e-4,
    "tiny-qwen3-q8_0": 5e-3, "tiny-qwen3-q4_0": 5e-3, "tiny-llama-q4_1": 5e-3,
    "tiny-qwen3-256-q4_k_m": 5e-3, "tiny-qwen3-256-q5_k_m": 5e-3, "tiny-qwen3-256-q6_k": 5e-3,
}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def tokens(fixtures_dir):
    return (fixtures_dir / "tokens.txt").read_text().strip()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_logits_match_reference(rkchat_bin, fixtures_dir, tmp_path, name):
    out = tmp_path / "logits.f32"
    r = run([rkchat_bin, "logits", "-m", str(fixtures_dir / f"{name}.gguf"), "--tokens", tokens(fixtures_dir),
             "-o", str(out), "-t", "2"])
    assert r.returncode == 0, r.stderr
    got = np.fromfile(out, dtype=np.float32)
    want = np.fromfile(fixtures_dir / f"{name}.logits.f32", dtype=np.float32)
    assert got.shape == want.shape
    err = np.linalg.norm(got.astype(np.float64) - want) / np.linalg.norm(want.astype(np.float64))
    assert err < MODELS[name], f"relative L2 error {err:.3g}"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_greedy_matches_reference(rkchat_bin, fixtures_dir, name):
    want = (fixtures_dir / f"{name}.greedy.txt").read_text().strip()
    r = run([rkchat_bin, "logits", "-m", str(fixtures_dir / f"{name}.gguf"), "--tokens", tokens(fixtures_dir),
             "--greedy", str(len(want.split(","))), "--prefix", "8"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == want


def test_scalar_isa_gives_the_same_greedy_ids(rkchat_bin, fixtures_dir):
    want = (fixtures_dir / "tiny-qwen3-q8_0.greedy.txt").read_text().strip()
    r = run([rkchat_bin, "logits", "-m", str(fixtures_dir / "tiny-qwen3-q8_0.gguf"), "--tokens", tokens(fixtures_dir),
             "--greedy", "32", "--prefix", "8", "-t", "1"], env={**os.environ, "RKCHAT_ISA": "scalar"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == want


def test_unknown_isa_is_a_clear_error(rkchat_bin, fixtures_dir):
    r = run([rkchat_bin, "logits", "-m", str(fixtures_dir / "tiny-qwen3-f32.gguf"), "--tokens", "1,2", "-o",
             os.devnull], env={**os.environ, "RKCHAT_ISA": "sse9"})
    assert r.returncode != 0
    assert "sse9" in r.stderr


@pytest.mark.parametrize("args,message", [
    (["-m", "/nonexistent/model.gguf", "--tokens", "1"], "does not exist"),
    (["--tokens", "1,x"], "not a token id"),
    (["--tokens", "5000"], "outside the vocabulary"),
])
def test_bad_input_gives_a_clear_error(rkchat_bin, fixtures_dir, tmp_path, args, message):
    if "-m" not in args:
        args = ["-m", str(fixtures_dir / "tiny-qwen3-f32.gguf")] + args
    r = run([rkchat_bin, "logits", *args, "-o", str(tmp_path / "x")])
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr and "terminate" not in r.stderr


def test_not_a_gguf_file_is_refused(rkchat_bin, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 10)
    r = run([rkchat_bin, "logits", "-m", str(bad), "--tokens", "1", "-o", str(tmp_path / "x")])
    assert r.returncode != 0
    assert str(bad) in r.stderr


def test_smollm2_perplexity_is_that_of_a_trained_model(rkchat_bin, smollm2, test_data):
    """A trained model scores tens on plain English; random weights score in the thousands."""
    r = run([rkchat_bin, "perplexity", "-m", smollm2, "-f", str(test_data / "english.txt"), "-c", "128"])
    assert r.returncode == 0, r.stderr
    ppl = float(re.search(r"PPL = ([0-9.]+)", r.stdout).group(1))
    assert 1.0 < ppl < 60.0, r.stdout
