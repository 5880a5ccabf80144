"""`rkchat serve`'s Ollama API over loopback, by hand and through the official `ollama` Python library, against
the fixture Qwen3 model in a --models folder (names as name:tag)."""
import json

import pytest

from server_helpers import Server, ndjson, post_json, request

CHAT = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def srv(rkchat_bin, fixtures_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ollama")
    models = tmp / "models"
    models.mkdir()
    (models / "qwen3-tiny.gguf").symlink_to(fixtures_dir / "tiny-qwen3-q8_0.gguf")
    s = Server(rkchat_bin, ["--models", str(models), "-c", "512"], tmp)
    yield s
    assert s.stop() == 0, s.stderr()


def test_tags_name_the_parameter_size_before_loading(srv):
    """Clients show /api/tags before any model is loaded: the size comes from the file's header then, and is the
    one the loaded model reports."""
    assert json.loads(request(srv.url + "/api/ps")[2])["models"] == []
    before = json.loads(request(srv.url + "/api/tags")[2])["models"][0]["details"]["parameter_size"]
    status, show = post_json(srv.url + "/api/show", {"model": "qwen3-tiny"})
    assert status == 200 and show["model_info"]["general.parameter_count"] > 0
    assert json.loads(request(srv.url + "/api/ps")[2])["models"], "show loads the model"
    after = json.loads(request(srv.url + "/api/tags")[2])["models"][0]["details"]["parameter_size"]
    assert before and before == after


def test_chat_not_streamed(srv):
    status, r = post_json(srv.url + "/api/chat", {"model": "qwen3-tiny:latest", "messages": CHAT, "stream": False,
                                                  "options": {"num_predict": 6, "temperature": 0, "seed": 3}})
    assert status == 200, r
    assert r["done"] is True and r["message"]["role"] == "assistant"
    assert r["done_reason"] in ("stop", "length")
    assert 1 <= r["eval_count"] <= 6 and r["prompt_eval_count"] > 5
    for k in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(r[k], int) and r[k] >= 0
    assert r["total_duration"] >= r["eval_duration"]
    assert r["total_duration"] > 1000  # nanoseconds, not ms


def test_chat_streamed_ndjson(srv):
    status, headers, data = request(srv.url + "/api/chat", {"model": "qwen3-tiny", "messages": CHAT,
                                                            "options": {"num_predict": 6}})
    assert status == 200 and headers["Content-Type"].startswith("application/x-ndjson")
    lines = ndjson(data)
    assert all(not l["done"] for l in lines[:-1]) and lines[-1]["done"]
    assert lines[-1]["eval_count"] == len(lines) - 1 or lines[-1]["eval_count"] >= 1


def test_generate(srv):
    status, r = post_json(srv.url + "/api/generate", {"model": "qwen3-tiny", "prompt": "Hi", "stream": False,
                                                      "think": False, "options": {"num_predict": 4}})
    assert status == 200 and r["done"] and isinstance(r["response"], str)
    status, _, data = request(srv.url + "/api/generate", {"model": "qwen3-tiny", "prompt": "Hi", "raw": True,
                                                          "options": {"num_predict": 4}})
    lines = ndjson(data)
    assert status == 200 and lines[-1]["done"] and "response" in lines[0]


def test_tags_show_ps_version(srv):
    tags = json.loads(request(srv.url + "/api/tags")[2])["models"]
    assert [m["name"] for m in tags] == ["qwen3-tiny:latest"]
    m = tags[0]
    assert m["size"] > 0 and len(m["digest"]) == 64 and m["modified_at"].endswith("Z")
    assert m["details"]["family"] == "qwen3" and m["details"]["quantization_level"] == "Q8_0"
    status, show = post_json(srv.url + "/api/show", {"model": "qwen3-tiny"})
    assert status == 200
    assert show["model_info"]["general.architecture"] == "qwen3" and "qwen3.context_length" in show["model_info"]
    assert "completion" in show["capabilities"] and "tools" in show["capabilities"]
    assert "thinking" in show["capabilities"]
    ps = json.loads(request(srv.url + "/api/ps")[2])["models"]
    assert ps[0]["size_vram"] == 0 and ps[0]["context_length"] == 512 and "expires_at" in ps[0]
    v = json.loads(request(srv.url + "/api/version")[2])["version"]
    assert all(p.isdigit() for p in v.split("."))


def test_keep_alive_zero_unloads(srv):
    post_json(srv.url + "/api/generate", {"model": "qwen3-tiny", "prompt": "Hi", "stream": False,
                                          "options": {"num_predict": 1}})
    assert json.loads(request(srv.url + "/api/ps")[2])["models"]
    status, r = post_json(srv.url + "/api/generate", {"model": "qwen3-tiny", "keep_alive": 0})
    assert status == 200 and r["done_reason"] == "unload"
    assert json.loads(request(srv.url + "/api/ps")[2])["models"] == []


def test_errors(srv):
    status, r = post_json(srv.url + "/api/chat", {"model": "nope", "messages": CHAT})
    assert status == 404 and "qwen3-tiny" in r["error"]
    status, _, data = request(srv.url + "/api/chat", raw=b"{bad")
    assert status == 400 and isinstance(json.loads(data)["error"], str)
    status, r = post_json(srv.url + "/api/chat", {"model": "qwen3-tiny", "messages": CHAT, "options": "x"})
    assert status == 400 and "options" in r["error"]
    status, r = post_json(srv.url + "/api/chat", {"model": "qwen3-tiny", "messages": CHAT, "format": "json"})
    assert status == 400


def test_official_ollama_client(srv):
    ollama = pytest.importorskip("ollama")
    client = ollama.Client(host=srv.url)
    r = client.chat(model="qwen3-tiny", messages=CHAT, options={"num_predict": 4})
    assert r.done and r.message.role == "assistant" and r.eval_count >= 1
    parts = list(client.chat(model="qwen3-tiny", messages=CHAT, stream=True, options={"num_predict": 4}))
    assert parts[-1].done
    g = client.generate(model="qwen3-tiny", prompt="Hi", options={"num_predict": 3})
    assert g.done
    assert [m.model for m in client.list().models] == ["qwen3-tiny:latest"]
    assert "completion" in client.show("qwen3-tiny").capabilities


def test_unknown_api_route_error_shape(srv):
    status, _, data = request(srv.url + "/api/nothing")
    assert status == 404 and isinstance(json.loads(data)["error"], str)
