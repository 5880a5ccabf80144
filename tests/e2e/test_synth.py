"""`rkchat synth` writes GGUF files that other GGUF tools read: checked with the Python gguf package."""
import subprocess

import gguf
import pytest


@pytest.mark.parametrize("wtype", ["q8_0", "q4_0", "f16", "f32"])
def test_synth_output_loads_in_python_gguf(rkchat_bin, tmp_path, wtype):
    out = tmp_path / f"tiny-{wtype}.gguf"
    r = subprocess.run([rkchat_bin, "synth", "--arch", "qwen3", "--size", "tiny", "--type", wtype, "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    reader = gguf.GGUFReader(str(out))
    names = {t.name for t in reader.tensors}
    assert {"token_embd.weight", "output_norm.weight", "blk.0.attn_q_norm.weight", "blk.0.ffn_down.weight"} <= names
    assert bytes(reader.fields["general.architecture"].parts[-1]).decode() == "qwen3"
    assert len(reader.fields["tokenizer.ggml.tokens"].data) == 151936  # padded to the embedding rows, as real conversions are
    types = {t.tensor_type.name for t in reader.tensors if t.name.endswith("attn_q.weight")}
    assert types == {wtype.upper()}


@pytest.mark.parametrize("pooling,value", [("mean", 1), ("cls", 2), ("last", 3), (None, None)])
def test_synth_pooling_declares_an_embedding_model(rkchat_bin, tmp_path, pooling, value):
    out = tmp_path / "tiny.gguf"
    args = ["--pooling", pooling] if pooling else []
    subprocess.run([rkchat_bin, "synth", "--arch", "qwen3", "--size", "tiny", "-o", str(out), *args], check=True,
                   capture_output=True, timeout=300)
    field = gguf.GGUFReader(str(out)).fields.get("qwen3.pooling_type")
    assert (field.parts[-1][0] if field else None) == value


def test_synth_model_runs_with_finite_logits(rkchat_bin, tmp_path):
    import numpy as np
    model = tmp_path / "tiny.gguf"
    subprocess.run([rkchat_bin, "synth", "--arch", "qwen3", "--size", "tiny", "--type", "q8_0", "-o", str(model)],
                   check=True, capture_output=True, timeout=300)
    out = tmp_path / "logits.f32"
    r = subprocess.run([rkchat_bin, "logits", "-m", str(model), "--tokens", "1,2,3,4", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    logits = np.fromfile(out, dtype=np.float32)
    assert np.isfinite(logits).all() and logits.std() > 0.1
