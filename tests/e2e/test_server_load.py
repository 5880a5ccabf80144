"""A bounded loopback load test of `rkchat serve`: 16 clients send 20 streamed requests each against --parallel 4
--queue 32. Every stream must end properly and carry the same greedy answer as a lone request (nothing lost or
mixed between streams); a client killed mid-stream frees its slot."""
import json
import socket
import threading
import time

import pytest

from server_helpers import Server, post_json, request, sse_events

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


def test_killed_client_frees_its_slot(srv):
    body = json.dumps({"messages": BODY["messages"], "stream": True, "max_tokens": 200, "temperature": 1.0}).encode()
    socks = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        socks.append(s)
    for s in socks:
        got = b""
        while b"data:" not in got:
            more = s.recv(4096)
            assert more, got
            got += more
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset, as a kill
        s.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = request(srv.url + "/metrics")[2].decode()
        if ('rkchat_active_sequences{model="tiny-qwen3-q8_0"} 0' in text
                and 'rkchat_queue_length{model="tiny-qwen3-q8_0"} 0' in text):
            break
        time.sleep(0.1)
    assert 'rkchat_active_sequences{model="tiny-qwen3-q8_0"} 0' in text
    assert 'rkchat_requests_total{route="/v1/chat/completions",status="499"}' in text
    # and the server still answers
    assert post_json(srv.url + "/v1/chat/completions", BODY)[0] == 200
