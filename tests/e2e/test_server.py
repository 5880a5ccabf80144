"""`rkchat serve` over loopback HTTP: the OpenAI routes, /rkllm_chat, /health, /metrics, errors, the API key and
shutdown, against the fixture Qwen3 model (with the real Qwen3 chat template)."""
import json
import signal
import subprocess
import threading

import pytest

from server_helpers import Server, open_stream, post_json, request, sse_events

CHAT = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def qwen3(rkchat_bin, fixtures_dir, tmp_path_factory):
    s = Server(rkchat_bin, ["-m", str(fixtures_dir / "tiny-qwen3-q8_0.gguf"), "-c", "512", "--parallel", "2",
                            "--queue", "4", "--max-body", "1000000"], tmp_path_factory.mktemp("serve"))
    s.wait_ready()
    yield s
    assert s.stop() == 0, s.stderr()


def test_health_and_models(qwen3):
    status, _, body = request(qwen3.url + "/health")
    assert status == 200
    h = json.loads(body)
    assert h["status"] == "ok" and h["backend"] == "cpu"
    assert h["models"][0]["name"] == "tiny-qwen3-q8_0" and h["models"][0]["loaded"]
    for path in ("/v1/models", "/models"):
        status, _, body = request(qwen3.url + path)
        assert status == 200
        models = json.loads(body)["data"]
        assert [m["id"] for m in models] == ["tiny-qwen3-q8_0"]
        assert models[0]["quantization"] == "Q8_0" and models[0]["backend"] == "cpu" and models[0]["size"] > 100000


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/chat/completions"])
def test_chat_completion(qwen3, path):
    status, r = post_json(qwen3.url + path, {"model": "gpt-4o-mini", "messages": CHAT, "max_tokens": 8,
                                             "temperature": 0, "seed": 1})
    assert status == 200, r
    assert r["object"] == "chat.completion" and r["model"] == "tiny-qwen3-q8_0"
    choice = r["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] in ("stop", "length")
    u = r["usage"]
    assert u["completion_tokens"] >= 1 and u["completion_tokens"] <= 8
    assert u["prompt_tokens"] > 5 and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert "cached_tokens" in u["prompt_tokens_details"]
    assert r["timings"]["predicted_n"] == u["completion_tokens"]


def test_greedy_is_deterministic_and_cache_is_reused(qwen3):
    body = {"messages": CHAT, "max_tokens": 6, "temperature": 0}
    _, a = post_json(qwen3.url + "/v1/chat/completions", body)
    _, b = post_json(qwen3.url + "/v1/chat/completions", body)
    ma, mb = a["choices"][0]["message"], b["choices"][0]["message"]
    assert (ma["content"], ma.get("reasoning_content")) == (mb["content"], mb.get("reasoning_content"))
    assert b["usage"]["prompt_tokens_details"]["cached_tokens"] > 0


def test_chat_stream_sse(qwen3):
    status, headers, data = request(qwen3.url + "/v1/chat/completions",
                                    {"messages": CHAT, "max_tokens": 8, "stream": True,
                                     "stream_options": {"include_usage": True}})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(data)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1
    last = chunks[-1]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] >= 1
    assert last["timings"]["predicted_n"] == last["usage"]["completion_tokens"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks if c["choices"])
    # the same answer as without streaming
    _, whole = post_json(qwen3.url + "/v1/chat/completions", {"messages": CHAT, "max_tokens": 8, "temperature": 0})
    _, data2 = request(qwen3.url + "/v1/chat/completions", {"messages": CHAT, "max_tokens": 8, "temperature": 0,
                                                            "stream": True})[1:]
    chunks2 = [json.loads(e) for e in sse_events(data2)[:-1]]
    text2 = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks2 if c["choices"])
    assert text2 == (whole["choices"][0]["message"]["content"] or "")
    assert isinstance(text, str) and isinstance(reasoning, str)


def test_completions(qwen3):
    for path in ("/v1/completions", "/completions"):
        status, r = post_json(qwen3.url + path, {"prompt": "Once upon a time", "max_tokens": 5, "temperature": 0})
        assert status == 200, r
        assert r["object"] == "text_completion" and r["usage"]["completion_tokens"] >= 1
    status, _, data = request(qwen3.url + "/v1/completions", {"prompt": "Once", "max_tokens": 4, "stream": True})
    events = sse_events(data)
    assert status == 200 and events[-1] == "[DONE]"


def test_thinking_switch(qwen3):
    # Qwen3's template closes an empty think block when thinking is off: the prompt grows.
    _, on = post_json(qwen3.url + "/v1/chat/completions", {"messages": CHAT, "max_tokens": 2})
    _, off = post_json(qwen3.url + "/v1/chat/completions", {"messages": CHAT, "max_tokens": 2,
                                                             "chat_template_kwargs": {"enable_thinking": False}})
    _, none = post_json(qwen3.url + "/v1/chat/completions", {"messages": CHAT, "max_tokens": 2,
                                                              "reasoning_effort": "none"})
    assert off["usage"]["prompt_tokens"] > on["usage"]["prompt_tokens"]
    assert none["usage"]["prompt_tokens"] == off["usage"]["prompt_tokens"]


def test_tools_reach_the_template(qwen3):
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}}}}}]
    _, plain = post_json(qwen3.url + "/v1/chat/completions", {"messages": CHAT, "max_tokens": 2})
    _, with_tools = post_json(qwen3.url + "/v1/chat/completions", {"messages": CHAT, "max_tokens": 2, "tools": tools})
    _, none = post_json(qwen3.url + "/v1/chat/completions", {"messages": CHAT, "max_tokens": 2, "tools": tools,
                                                              "tool_choice": "none"})
    assert with_tools["usage"]["prompt_tokens"] > plain["usage"]["prompt_tokens"] + 20
    assert none["usage"]["prompt_tokens"] == plain["usage"]["prompt_tokens"]
    # an assistant tool call and the tool's answer in the history render
    history = CHAT + [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
    status, r = post_json(qwen3.url + "/v1/chat/completions", {"messages": history, "max_tokens": 2, "tools": tools})
    assert status == 200, r


def console_chat_turn(url, question, stream, **extra):
    """One turn as the reference system's console client (rknn-llm's chat_api_flask.py) makes it: a requests
    session, its placeholder Authorization header, and, streamed, bare JSON objects read with iter_lines, printing
    choices[-1].delta.content until finish_reason is "stop". Returns what it would print as the answer."""
    import requests
    data = {"model": "your_model_deploy_with_RKLLM_Server", "messages": [{"role": "user", "content": question}],
            "stream": stream, **extra}
    headers = {"Content-Type": "application/json", "Authorization": "not_required"}
    with requests.Session() as session:
        r = session.post(url + "/rkllm_chat", json=data, headers=headers, stream=stream, timeout=120)
        assert r.status_code == 200, r.text
        if not stream:
            return json.loads(r.text)["choices"][-1]["message"]["content"]
        printed, last = "", None
        for line in r.iter_lines():
            if line:
                last = json.loads(line.decode("utf-8"))
                if last["choices"][-1]["finish_reason"] != "stop":
                    printed += last["choices"][-1]["delta"]["content"]
        assert last is not None and last["choices"][-1]["finish_reason"] in ("stop", "length")
        return printed


def test_rkllm_chat_speaks_the_reference_console_client(qwen3):
    assert console_chat_turn(qwen3.url, "Hello", stream=False).strip()
    assert console_chat_turn(qwen3.url, "Hello", stream=True).strip()


def test_rkllm_chat_answers_as_the_openai_route_without_thinking(qwen3):
    """Greedy, the client's two modes print the /v1 answer of the same request with thinking off (the reference
    server's default)."""
    greedy = {"temperature": 0, "max_tokens": 8}
    whole = console_chat_turn(qwen3.url, "Hello", stream=False, **greedy)
    streamed = console_chat_turn(qwen3.url, "Hello", stream=True, **greedy)
    _, r = post_json(qwen3.url + "/v1/chat/completions", {
        "messages": CHAT, "chat_template_kwargs": {"enable_thinking": False}, **greedy})
    assert whole == streamed == r["choices"][0]["message"]["content"]


def test_rkllm_chat_stream_has_no_sse_framing(qwen3):
    status, headers, data = request(qwen3.url + "/rkllm_chat", {"messages": CHAT, "stream": True, "max_tokens": 4})
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    objects = [json.loads(line) for line in data.decode().split("\n\n") if line.strip()]
    assert objects and all(len(o["choices"]) == 1 and "content" in o["choices"][0]["delta"] for o in objects)
    assert [o["choices"][0]["finish_reason"] for o in objects][-1] == "length"
    assert objects[-1]["usage"]["completion_tokens"] == 4


def test_rkllm_chat_thinking_when_asked(qwen3):
    """enable_thinking: true, as the reference accepts it: the reasoning comes inside <think> in the content."""
    status, r = post_json(qwen3.url + "/rkllm_chat", {"messages": CHAT, "enable_thinking": True, "max_tokens": 6,
                                                      "temperature": 0})
    assert status == 200, r
    _, plain = post_json(qwen3.url + "/v1/chat/completions", {"messages": CHAT, "max_tokens": 6, "temperature": 0})
    assert r["choices"][0]["message"].get("reasoning_content") == plain["choices"][0]["message"].get(
        "reasoning_content")


@pytest.mark.parametrize("body,field", [
    ({"messages": "hi"}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": [{}]}, "messages[0]"),
    ({"messages": [{"role": 3, "content": "x"}]}, "role"),
    ({"messages": [{"role": "user", "content": 3}]}, "content"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                   {"role": "assistant", "content": "c"}]}, "two assistant"),
    ({"messages": CHAT, "temperature": "hot"}, "temperature"),
    ({"messages": CHAT, "max_tokens": "many"}, "max_tokens"),
    ({"messages": CHAT, "stream": "yes"}, "stream"),
    ({"messages": CHAT, "stop": 5}, "stop"),
    ({"messages": CHAT, "response_format": {"type": "json_object"}}, "json_object"),
    ({"messages": CHAT, "n": 99}, "'n'"),
])
def test_bad_requests(qwen3, body, field):
    status, r = post_json(qwen3.url + "/v1/chat/completions", body)
    assert status == 400, r
    assert r["error"]["type"] == "invalid_request_error" and field in r["error"]["message"]


def test_malformed_and_odd_bodies(qwen3):
    url = qwen3.url + "/v1/chat/completions"
    for raw in (b"{", b"[1,2]", b"", b"\xff\xfe{}", b'{"messages": [{"role": "user", "content": "\xc3\x28"}]}',
                b"[" * 100000 + b"]" * 100000):
        status, _, data = request(url, raw=raw)
        assert status == 400, raw[:20]
        assert json.loads(data)["error"]["type"] == "invalid_request_error"
    # unknown fields are ignored
    status, _ = post_json(url, {"messages": CHAT, "max_tokens": 1, "frobnicate": {"x": [1]}})
    assert status == 200
    # 413 over --max-body
    status, _, data = request(url, raw=b'{"messages": "' + b"x" * 1200000 + b'"}')
    assert status == 413 and json.loads(data)["error"]["code"] == 413
    # also without a length up front (chunked)
    chunked = {"Transfer-Encoding": "chunked"}
    status, _, data = request(url, raw=iter([b'{"messages": "', b"x" * 1200000, b'"}']), headers=chunked)
    assert status == 413
    # `curl -d` sends a form content type: bodies over 8 KiB are still read as JSON up to --max-body
    body = json.dumps({"messages": [{"role": "user", "content": "x " * 6000}], "max_tokens": 1}).encode()
    status, _, data = request(url, raw=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and json.loads(data)["error"]["type"] == "exceed_context_size_error"
    assert request(qwen3.url + "/health")[0] == 200


def test_exceed_context(qwen3):
    status, r = post_json(qwen3.url + "/v1/chat/completions",
                          {"messages": [{"role": "user", "content": "word " * 800}]})
    assert status == 400
    e = r["error"]
    assert e["type"] == "exceed_context_size_error" and e["n_ctx"] == 512 and e["n_prompt_tokens"] > 512


def test_long_history(qwen3):
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": "x"} for i in range(10000)]
    status, r = post_json(qwen3.url + "/v1/chat/completions", {"messages": history + CHAT})
    assert status == 400 and r["error"]["type"] == "exceed_context_size_error"
    assert request(qwen3.url + "/health")[0] == 200


def test_unknown_route(qwen3):
    status, _, data = request(qwen3.url + "/v1/nothing")
    assert status == 404 and json.loads(data)["error"]["type"] == "not_found_error"


def test_metrics(qwen3):
    post_json(qwen3.url + "/v1/chat/completions", {"messages": CHAT, "max_tokens": 2})
    status, headers, data = request(qwen3.url + "/metrics")
    text = data.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert 'rkchat_requests_total{route="/v1/chat/completions",status="200"}' in text
    assert "rkchat_ttft_seconds_bucket" in text and "rkchat_generated_tokens_total" in text
    assert 'rkchat_active_sequences{model="tiny-qwen3-q8_0"} 0' in text
    assert 'rkchat_errors_total{type="invalid_request_error"}' in text


def test_client_gone_frees_slot(qwen3):
    s = open_stream(qwen3.port, {"messages": CHAT, "stream": True, "max_tokens": -1, "temperature": 1.0})
    s.close()
    import time
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = request(qwen3.url + "/metrics")[2].decode()
        if 'rkchat_active_sequences{model="tiny-qwen3-q8_0"} 0' in text:
            break
        time.sleep(0.1)
    assert 'rkchat_active_sequences{model="tiny-qwen3-q8_0"} 0' in text


def test_api_key(rkchat_bin, fixtures_dir, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("s3cret\n")
    s = Server(rkchat_bin, ["-m", str(fixtures_dir / "tiny-qwen3-q8_0.gguf"), "--api-key-file", str(key_file)],
               tmp_path)
    try:
        s.wait_ready()
        url = s.url + "/v1/chat/completions"
        body = {"messages": CHAT, "max_tokens": 1}
        status, r = post_json(url, body)
        assert status == 401 and r["error"]["type"] == "authentication_error"
        assert post_json(url, body, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert post_json(s.url + "/nothing", body)[0] == 401  # checked before routing
        assert post_json(url, body, headers={"Authorization": "Bearer s3cret"})[0] == 200
        assert post_json(url, body, headers={"X-Api-Key": "s3cret"})[0] == 200
        assert request(s.url + "/health")[0] == 200
    finally:
        assert s.stop() == 0


def test_models_dir_empty_and_unknown(rkchat_bin, tmp_path):
    empty = tmp_path / "models"
    empty.mkdir()
    s = Server(rkchat_bin, ["--models", str(empty)], tmp_path)
    try:
        status, _, body = request(s.url + "/health")
        assert status == 200 and json.loads(body)["models"] == []
        status, r = post_json(s.url + "/v1/chat/completions", {"model": "qwen", "messages": CHAT})
        assert status == 404 and r["error"]["type"] == "not_found_error" and "none" in r["error"]["message"]
    finally:
        assert s.stop() == 0


def test_models_dir_loads_on_use(rkchat_bin, fixtures_dir, tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    (d / "tiny.gguf").symlink_to(fixtures_dir / "tiny-qwen3-q8_0.gguf")
    (d / "llama.gguf").symlink_to(fixtures_dir / "tiny-llama-f32.gguf")
    s = Server(rkchat_bin, ["--models", str(d), "--max-loaded", "1"], tmp_path)
    try:
        status, r = post_json(s.url + "/v1/chat/completions", {"model": "other", "messages": CHAT})
        assert status == 404 and "llama" in r["error"]["message"] and "tiny" in r["error"]["message"]
        status, r = post_json(s.url + "/v1/chat/completions", {"model": "tiny:latest", "messages": CHAT,
                                                               "max_tokens": 2})
        assert status == 200 and r["model"] == "tiny"
        status, r = post_json(s.url + "/v1/chat/completions", {"model": "llama", "messages": CHAT, "max_tokens": 2})
        assert status == 200 and r["model"] == "llama"
        loaded = [m["name"] for m in json.loads(request(s.url + "/health")[2])["models"] if m["loaded"]]
        assert loaded == ["llama"]  # --max-loaded 1: the least recently used went
    finally:
        assert s.stop() == 0


def test_sigterm_lets_streams_finish(rkchat_bin, smollm2, tmp_path):
    """SIGTERM mid-stream: new requests get 503, the running stream ends whole ([DONE]), the process exits 0."""
    s = Server(rkchat_bin, ["-m", smollm2, "-c", "1024", "--shutdown-timeout", "60"], tmp_path)
    s.wait_ready()
    # ignore_eos: the answer is 800 tokens long however fast the machine, so it outlasts the 503 probe below
    sock = open_stream(s.port, {"messages": CHAT, "max_tokens": 800, "ignore_eos": True, "stream": True,
                                "temperature": 0, "stream_options": {"include_usage": True}})
    s.proc.send_signal(signal.SIGTERM)
    import time
    time.sleep(0.2)
    status, _, _ = request(s.url + "/v1/models")
    assert status == 503
    data = b""
    while True:
        more = sock.recv(65536)
        if not more:
            break
        data += more
        if b"data: [DONE]" in data:
            break
    sock.close()
    assert s.stop() == 0
    events = [e for e in data.decode(errors="replace").split("\n") if e.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    usage = json.loads(events[-2][len("data: "):])["usage"]
    assert usage["completion_tokens"] == 800  # it ran on after the signal, to its end
    assert "stopped" in s.stderr()


def test_port_in_use_is_refused(rkchat_bin, fixtures_dir, qwen3):
    """A second server on a taken port says so and exits: it must not share the port (SO_REUSEPORT) and take half
    of the first one's connections."""
    proc = subprocess.run([rkchat_bin, "serve", "-m", str(fixtures_dir / "tiny-qwen3-q8_0.gguf"), "--host",
                           "127.0.0.1", "--port", str(qwen3.port)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{qwen3.port}" in proc.stderr and "in use" in proc.stderr
    assert request(qwen3.url + "/health")[0] == 200


def test_listen_backlog(qwen3):
    """cpp-httplib listens with a backlog of 5, which a burst of clients overflows (SYN cookies, then a reset seen in
    CI); the server raises it. `ss` shows a listening socket's backlog as its Send-Q."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{qwen3.port}"], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "LISTEN" and int(out[2]) >= 128, out
