"""The official `openai` Python library and curl against `rkchat serve` (fixture Qwen3 model, one -m file that
answers any model name)."""
import json
import shutil
import subprocess

import pytest

from server_helpers import Server

CHAT = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def srv(rkchat_bin, fixtures_dir, tmp_path_factory):
    s = Server(rkchat_bin, ["-m", str(fixtures_dir / "tiny-qwen3-q8_0.gguf"), "-c", "512", "--api-key", "k1"],
               tmp_path_factory.mktemp("clients"))
    s.wait_ready()
    yield s
    assert s.stop() == 0, s.stderr()


def test_openai_library(srv):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="k1")
    r = client.chat.completions.create(model="gpt-4o-mini", messages=CHAT, max_tokens=5, temperature=0)
    assert r.choices[0].message.role == "assistant" and r.usage.completion_tokens >= 1
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=CHAT, max_tokens=5, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].usage.completion_tokens >= 1 and chunks[-1].choices == []
    assert [m.id for m in client.models.list()] == ["tiny-qwen3-q8_0"]
    c = client.completions.create(model="x", prompt="Once", max_tokens=3)
    assert c.usage.completion_tokens >= 1
    # a base URL without /v1 works too
    bare = openai.OpenAI(base_url=srv.url, api_key="k1")
    assert bare.chat.completions.create(model="m", messages=CHAT, max_tokens=2).choices
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=srv.url + "/v1", api_key="bad").models.list()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x" * 8000}])


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
def test_curl(srv):
    out = subprocess.run(["curl", "-sS", "-N", srv.url + "/v1/chat/completions", "-H", "Authorization: Bearer k1",
                          "-H", "Content-Type: application/json", "-d",
                          json.dumps({"messages": CHAT, "max_tokens": 3, "stream": True})],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.rstrip().endswith("data: [DONE]")
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", srv.url + "/health"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout == "200"
