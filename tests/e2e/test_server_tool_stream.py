"""Tool calls streamed as they are generated, through the official `openai` and `anthropic` libraries and Ollama's
NDJSON: `rkchat serve` runs an .rkllm model on the RKLLM runtime double, whose scripted answer writes a
<tool_call> block a few bytes at a time."""
import json

import pytest

from rkllm_helpers import Npu, find_double_dir
from server_helpers import Server, request

ARGS = '{"city": "Paris, FR", "unit": "celsius"}'
ANSWER = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": ' + ARGS + '}\n</tool_call>'
WANT_ARGS = '{"city":"Paris, FR","unit":"celsius"}'  # as written, whitespace outside strings dropped
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"},
                                                                         "unit": {"type": "string"}}}}}]
CHAT = [{"role": "user", "content": "Weather in Paris?"}]


def serve(rkchat_bin, build_dir, tmp_path, answer):
    npu = Npu(rkchat_bin, find_double_dir(build_dir), tmp_path)
    pieces = [{"text": answer[i:i + 3], "token": 5} for i in range(0, len(answer), 3)]
    npu.script(delay_ms=15, turns=[{"pieces": pieces}])
    s = Server(rkchat_bin, ["-m", npu.model("1.2.1"), "--rkllm-lib", npu.lib("1.2.1")], tmp_path, env=npu.env)
    s.wait_ready()
    return s


@pytest.fixture(scope="module")
def srv(rkchat_bin, build_dir, tmp_path_factory):
    s = serve(rkchat_bin, build_dir, tmp_path_factory.mktemp("tools"), ANSWER)
    yield s
    assert s.stop() == 0, s.stderr()


def test_openai_stream_sends_the_call_in_fragments(srv):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none")
    content, calls, finish = "", [], None
    for chunk in client.chat.completions.create(model="m", messages=CHAT, tools=TOOLS, stream=True):
        delta = chunk.choices[0].delta
        content += delta.content or ""
        calls += delta.tool_calls or []
        finish = chunk.choices[0].finish_reason or finish
    first, rest = calls[0], calls[1:]
    assert (first.index, first.type, first.function.name, first.function.arguments) == (0, "function",
                                                                                          "get_weather", "")
    assert first.id.startswith("call_")
    assert all(c.index == 0 and c.id is None and c.function.name is None for c in rest)
    assert len(rest) > 1, "the arguments came in one piece, not as they were generated"
    assert "".join(c.function.arguments for c in rest) == WANT_ARGS
    assert content == "Let me check." and finish == "tool_calls"
    # The answer without streaming says the same.
    whole = client.chat.completions.create(model="m", messages=CHAT, tools=TOOLS)
    (call,) = whole.choices[0].message.tool_calls
    assert (call.function.name, call.function.arguments) == ("get_weather", WANT_ARGS)
    assert whole.choices[0].message.content == "Let me check."


def test_openai_stream_helper_accumulates_the_call(srv):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none")
    strict = [{"type": "function", "function": {**TOOLS[0]["function"], "strict": True}}]  # the helper wants it
    with client.chat.completions.stream(model="m", messages=CHAT, tools=strict) as stream:
        arg_events = [e for e in stream if e.type == "tool_calls.function.arguments.delta"]
        final = stream.get_final_completion()
    assert len(arg_events) > 1
    assert arg_events[-1].arguments == WANT_ARGS  # the accumulated snapshot
    (call,) = final.choices[0].message.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == json.loads(ARGS)


def test_anthropic_stream_sends_tool_use_then_input_json(srv):
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(base_url=srv.url, api_key="none")
    tools = [{"name": "get_weather", "description": "Weather of a city",
              "input_schema": TOOLS[0]["function"]["parameters"]}]
    with client.messages.stream(model="m", max_tokens=100, messages=CHAT, tools=tools) as stream:
        events = list(stream)
        final = stream.get_final_message()
    starts = [e for e in events if e.type == "content_block_start" and e.content_block.type == "tool_use"]
    assert len(starts) == 1 and starts[0].content_block.name == "get_weather" and starts[0].content_block.input == {}
    partial = [e for e in events if e.type == "input_json"]
    assert len(partial) > 1
    assert "".join(e.partial_json for e in partial) == WANT_ARGS
    assert final.stop_reason == "tool_use"
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[1].input == json.loads(ARGS) and final.content[0].text == "Let me check."


def test_ollama_stream_sends_the_call_whole_once(srv):
    status, _, data = request(srv.url + "/api/chat", {"model": "m", "messages": CHAT, "tools": TOOLS})
    assert status == 200
    lines = [json.loads(line) for line in data.decode().splitlines()]
    with_calls = [m for m in lines if m.get("message", {}).get("tool_calls")]
    assert len(with_calls) == 1 and not with_calls[0]["done"]
    assert with_calls[0]["message"]["tool_calls"] == [{"function": {"name": "get_weather",
                                                                    "arguments": json.loads(ARGS)}}]
    assert "".join(m["message"]["content"] for m in lines) == "Let me check."
    assert lines[-1]["done"]


@pytest.fixture(scope="module")
def bad(rkchat_bin, build_dir, tmp_path_factory):
    s = serve(rkchat_bin, build_dir, tmp_path_factory.mktemp("bad-tools"),
              'Calling.\n<tool_call>\n{"tool": get_weather}\n</tool_call>\nDone.')
    yield s
    assert s.stop() == 0, s.stderr()


def test_malformed_call_stays_text(bad):
    """A block that is not a JSON object with a name is no call: its text comes back as content, as llama.cpp does."""
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=bad.url + "/v1", api_key="none")
    want = 'Calling.<tool_call>\n{"tool": get_weather}\n</tool_call>Done.'
    chunks = list(client.chat.completions.create(model="m", messages=CHAT, tools=TOOLS, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == want
    assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason == "stop"
    whole = client.chat.completions.create(model="m", messages=CHAT, tools=TOOLS)
    assert whole.choices[0].message.content == want and not whole.choices[0].message.tool_calls
