"""Embeddings over `rkchat serve`: the official `openai` and `ollama` libraries and raw requests, against a synthetic
Qwen3 declaring last-token pooling (`rkchat synth --pooling last`) and the chat-only fixture model beside it (400)."""
import base64
import math
import struct
import subprocess

import pytest

from server_helpers import Server, post_json


@pytest.fixture(scope="module")
def srv(rkchat_bin, fixtures_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("embed")
    models = tmp / "models"
    models.mkdir()
    subprocess.run([rkchat_bin, "synth", "--arch", "qwen3", "--size", "tiny", "--type", "q8_0", "--pooling", "last",
                    "-o", str(models / "emb.gguf")], check=True, capture_output=True, timeout=300)
    (models / "chat.gguf").symlink_to(fixtures_dir / "tiny-qwen3-q8_0.gguf")
    s = Server(rkchat_bin, ["--models", str(models), "--max-loaded", "2", "-c", "256", "--parallel", "2"], tmp)
    yield s
    assert s.stop() == 0, s.stderr()


def norm(v):
    return math.sqrt(sum(x * x for x in v))


def test_openai_library(srv):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none")
    # The library asks for base64 and decodes it: the float form must give the same numbers.
    r = client.embeddings.create(model="emb", input=["The quick brown fox", "Hello"])
    assert [d.index for d in r.data] == [0, 1] and r.model == "emb"
    assert all(len(d.embedding) == 64 and abs(norm(d.embedding) - 1) < 1e-5 for d in r.data)
    assert r.data[0].embedding != r.data[1].embedding
    assert r.usage.prompt_tokens == r.usage.total_tokens >= 2
    status, floats = post_json(srv.url + "/v1/embeddings", {"model": "emb", "input": "The quick brown fox",
                                                            "encoding_format": "float"})
    assert status == 200 and floats["data"][0]["embedding"] == pytest.approx(r.data[0].embedding, abs=0)
    # The same text alone and second in a list.
    alone = client.embeddings.create(model="emb", input="Hello").data[0].embedding
    assert alone == r.data[1].embedding
    ids = client.embeddings.create(model="emb", input=[[9707, 11, 1879], [9707]])
    assert len(ids.data) == 2 and ids.usage.prompt_tokens == 4
    with pytest.raises(openai.BadRequestError, match="does not support embeddings"):
        client.embeddings.create(model="chat", input="Hello")


def test_base64_is_little_endian_float32(srv):
    _, f = post_json(srv.url + "/v1/embeddings", {"model": "emb", "input": "abc", "encoding_format": "float"})
    _, b = post_json(srv.url + "/v1/embeddings", {"model": "emb", "input": "abc", "encoding_format": "base64"})
    raw = base64.b64decode(b["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == f["data"][0]["embedding"]


def test_ollama_library(srv):
    ollama = pytest.importorskip("ollama")
    client = ollama.Client(host=srv.url)
    r = client.embed(model="emb", input=["The quick brown fox", "Hello"])
    assert len(r.embeddings) == 2 and all(abs(norm(v) - 1) < 1e-5 for v in r.embeddings)
    assert r.prompt_eval_count >= 2
    assert client.embed(model="emb", input="Hello").embeddings[0] == r.embeddings[1]
    assert client.embeddings(model="emb", prompt="Hello").embedding == r.embeddings[1]
    assert "embedding" in client.show("emb").capabilities
    assert "embedding" not in client.show("chat").capabilities
    with pytest.raises(ollama.ResponseError) as e:
        client.embed(model="chat", input="Hello")
    assert e.value.status_code == 400 and "does not support embeddings" in e.value.error


def test_refusals(srv):
    url = srv.url + "/v1/embeddings"
    for body, says in [({"model": "emb"}, "'input' is required"),
                       ({"model": "emb", "input": []}, "empty"),
                       ({"model": "emb", "input": ["a", ""]}, "empty"),
                       ({"model": "emb", "input": {"text": "a"}}, "must be a string"),
                       ({"model": "emb", "input": ["a"] * 257}, "at most 256"),
                       ({"model": "emb", "input": "a", "encoding_format": "int8"}, "encoding_format")]:
        status, r = post_json(url, body)
        assert status == 400 and says in r["error"]["message"], (body, r)
    long = "word " * 400
    status, r = post_json(url, {"model": "emb", "input": long})
    assert status == 400 and r["error"]["type"] == "exceed_context_size_error" and r["error"]["n_ctx"] == 256
    # Ollama cuts inputs to the context unless asked not to, as Ollama does.
    status, r = post_json(srv.url + "/api/embed", {"model": "emb", "input": long})
    assert status == 200 and r["prompt_eval_count"] == 256
    status, r = post_json(srv.url + "/api/embed", {"model": "emb", "input": long, "truncate": False})
    assert status == 400
    status, r = post_json(srv.url + "/v1/embeddings", {"model": "nope", "input": "a"})
    assert status == 404
