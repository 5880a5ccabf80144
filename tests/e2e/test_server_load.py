"""A bounded loopback load test of `rkchat serve`: 16 clients send 20 streamed requests each against --parallel 4
--queue 32. Every stream must end properly and carry the same greedy answer as a lone request (nothing lost or
mixed between streams); a client killed mid-stream frees its slot."""
import json
import socket
import threading
import time

import pytest

from server_helpers import Server, open_stream, post_json, request, sse_events

CLIENTS, REQUESTS = 16, 20
BODY = {"messages": [{"role": "user", "content": "Tell me a story"}], "max_tokens": 12, "temperature": 0}


@pytest.fixture(scope="module")
def srv(rkchat_bin, fixtures_dir, tmp_path_factory):
    s = Server(rkchat_bin, ["-m", str(fixtures_dir / "tiny-qwen3-q8_0.gguf"), "-c", "256", "--parallel", "4",
                            "--queue", "32", "-t", "1"], tmp_path_factory.mktemp("load"))
    s.wait_ready()
    yield s
    assert s.stop() == 0, s.stderr()


def streamed_text(data):
    events = sse_events(data)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert sum(1 for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]) == 1
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1  # one stream's chunks only
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks if c["choices"])
    return reasoning, content


def test_many_streams(srv):
    _, whole = post_json(srv.url + "/v1/chat/completions", BODY)
    m = whole["choices"][0]["message"]
    want = (m.get("reasoning_content") or "", m["content"] or "")
    errors, done = [], []

    def client(k):
        for _ in range(REQUESTS):
            try:
                status, _, data = request(srv.url + "/v1/chat/completions", dict(BODY, stream=True), timeout=120)
                assert status == 200, data[:200]
                got = streamed_text(data)
                assert got == want, (got, want)
                done.append(k)
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(repr(e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[:3]
    assert len(done) == CLIENTS * REQUESTS
    assert time.monotonic() - t0 < 300
    text = request(srv.url + "/metrics")[2].decode()
    assert 'rkchat_active_sequences{model="tiny-qwen3-q8_0"} 0' in text
    assert 'rkchat_queue_length{model="tiny-qwen3-q8_0"} 0' in text


def test_killed_client_frees_its_slot(rkchat_bin, smollm2, tmp_path):
    """SmolLM2 with a long answer: each stream would run for seconds, so a slot freed at once was freed by the kill."""
    srv = Server(rkchat_bin, ["-m", smollm2, "-c", "2048", "--parallel", "2", "--queue", "8"], tmp_path)
    try:
        srv.wait_ready()
        body = {"messages": BODY["messages"], "stream": True, "max_tokens": 1500, "ignore_eos": True,
                "temperature": 1.0, "seed": 1}
        socks = [open_stream(srv.port, body) for _ in range(2)]
        t0 = time.monotonic()
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST, as a kill
            s.close()
        idle = 'rkchat_active_sequences{model="SmolLM2-135M-Instruct.Q4_1"} 0'
        while time.monotonic() - t0 < 20:
            text = request(srv.url + "/metrics")[2].decode()
            if idle in text and 'status="499"} 2' in text:
                break
            time.sleep(0.05)
        freed_after = time.monotonic() - t0
        assert idle in text and 'rkchat_requests_total{route="/v1/chat/completions",status="499"} 2' in text, text
        assert freed_after < 3, freed_after
        # and the server still answers
        assert post_json(srv.url + "/v1/chat/completions", dict(BODY, max_tokens=4))[0] == 200
    finally:
        assert srv.stop() == 0


def test_queue_full_is_503_with_retry_after(rkchat_bin, smollm2, tmp_path):
    srv = Server(rkchat_bin, ["-m", smollm2, "-c", "2048", "--parallel", "1", "--queue", "0", "--log-format",
                              "json"], tmp_path)
    try:
        srv.wait_ready()
        busy = open_stream(srv.port, {"messages": BODY["messages"], "stream": True, "max_tokens": 1500,
                                      "ignore_eos": True, "temperature": 1.0, "seed": 1})
        status, headers, data = request(srv.url + "/v1/chat/completions", dict(BODY, max_tokens=4))
        busy.close()
        assert status == 503 and headers["Retry-After"] == "1"
        assert json.loads(data)["error"]["type"] == "unavailable_error"
        deadline = time.monotonic() + 20  # the killed stream frees the slot
        while request(srv.url + "/v1/chat/completions", dict(BODY, max_tokens=4))[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        assert srv.stop() == 0
    # one JSON log line per request, with id, model, tokens, TTFT and status
    lines = [json.loads(l) for l in srv.stderr().splitlines() if l.startswith("{")]
    assert {l["status"] for l in lines} >= {200, 503}
    answered = [l for l in lines if l["path"] == "/v1/chat/completions" and l["status"] == 200]
    assert all(k in answered[0] for k in ("id", "model", "prompt_tokens", "gen_tokens", "ttft_ms", "ms"))
