"""`rkchat serve`'s Anthropic Messages API over loopback, by hand and through the official `anthropic` library,
against the fixture Qwen3 model."""
import json

import pytest

from server_helpers import Server, post_json, request

MSG = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def srv(rkchat_bin, fixtures_dir, tmp_path_factory):
    s = Server(rkchat_bin, ["-m", str(fixtures_dir / "tiny-qwen3-q8_0.gguf"), "-c", "512", "--api-key", "k2"],
               tmp_path_factory.mktemp("anthropic"))
    s.wait_ready()
    yield s
    assert s.stop() == 0, s.stderr()


KEY = {"x-api-key": "k2"}


def events(data):
    """(event name, payload) pairs of an SSE body."""
    out, name = [], None
    for line in data.decode().split("\n"):
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            out.append((name, json.loads(line[6:])))
    return out


def test_message(srv):
    status, r = post_json(srv.url + "/v1/messages", {"model": "claude-x", "max_tokens": 6, "messages": MSG,
                                                     "system": "Be brief.", "temperature": 0}, headers=KEY)
    assert status == 200, r
    assert r["type"] == "message" and r["role"] == "assistant"
    assert r["stop_reason"] in ("end_turn", "max_tokens")
    assert r["content"][-1]["type"] == "text"
    assert r["usage"]["output_tokens"] >= 1 and r["usage"]["input_tokens"] > 5


def test_stream_event_order(srv):
    status, _, data = request(srv.url + "/v1/messages", {"model": "m", "max_tokens": 8, "messages": MSG,
                                                         "stream": True, "thinking": {"type": "enabled",
                                                                                      "budget_tokens": 100}},
                              headers=KEY)
    assert status == 200
    ev = events(data)
    names = [n for n, _ in ev]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert all(n == p["type"] for n, p in ev)
    # blocks are opened, filled and closed in order, never interleaved
    open_index = None
    for n, p in ev[1:-2]:
        if n == "content_block_start":
            assert open_index is None
            open_index = p["index"]
        elif n == "content_block_delta":
            assert p["index"] == open_index
        elif n == "content_block_stop":
            assert p["index"] == open_index
            open_index = None
    assert open_index is None
    assert ev[-2][1]["usage"]["output_tokens"] >= 1


def test_tools_history_and_count_tokens(srv):
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}}}]
    history = MSG + [
        {"role": "assistant", "content": [{"type": "text", "text": "Let me look."},
                                          {"type": "tool_use", "id": "t1", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}]
    status, plain = post_json(srv.url + "/v1/messages/count_tokens", {"model": "m", "messages": MSG}, headers=KEY)
    assert status == 200 and plain["input_tokens"] > 5
    status, with_tools = post_json(srv.url + "/v1/messages/count_tokens",
                                   {"model": "m", "messages": history, "tools": tools}, headers=KEY)
    assert status == 200 and with_tools["input_tokens"] > plain["input_tokens"] + 20
    status, r = post_json(srv.url + "/v1/messages", {"model": "m", "max_tokens": 3, "messages": history,
                                                     "tools": tools, "stop_sequences": ["\n\n"]}, headers=KEY)
    assert status == 200, r


def test_errors(srv):
    status, r = post_json(srv.url + "/v1/messages", {"model": "m", "messages": MSG})
    assert status == 401 and r["type"] == "error" and r["error"]["type"] == "authentication_error"
    status, r = post_json(srv.url + "/v1/messages", {"model": "m", "messages": [{"role": "bot", "content": "x"}]},
                          headers=KEY)
    assert status == 400 and r["error"]["type"] == "invalid_request_error"
    status, r = post_json(srv.url + "/v1/messages", {"model": "m", "max_tokens": 2,
                                                     "messages": [{"role": "user", "content": "w " * 900}]},
                          headers=KEY)
    assert status == 400 and r["type"] == "error"


def test_official_anthropic_client(srv):
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(base_url=srv.url, api_key="k2")
    r = client.messages.create(model="claude-3-5-haiku-latest", max_tokens=5, messages=MSG)
    assert r.role == "assistant" and r.usage.output_tokens >= 1
    with client.messages.stream(model="m", max_tokens=5, messages=MSG) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.usage.output_tokens >= 1 and isinstance(text, str)
    assert client.messages.count_tokens(model="m", messages=MSG).input_tokens > 5
