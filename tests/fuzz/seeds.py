#!/usr/bin/env python3
"""Structure-aware regression seeds for the chat fuzzers, written into a directory:

    python3 tests/fuzz/seeds.py template DIR   # hostile templates for fuzz_template
    python3 tests/fuzz/seeds.py messages DIR   # hostile and ordinary messages JSON for fuzz_messages

Each seed is an input that once crashed or hung rkchat (issue 13): long left-deep expression chains and deep
nesting overflowed the stack; big ranges, big strings and quadratic filters ran for tens of seconds. They are
generated rather than committed (some are 200 KB) and stay under the fuzzers' -max_len (scripts/fuzz-smoke.sh).
"""
import json
import pathlib
import sys


def chain(term, sep, n):
    return sep.join([term] * n)


def template_seeds():
    big = "{% set s = 'x' * 16000000 %}"
    loop = "{% for i in range(60000) %}"
    return {
        # Stack: chains the parser builds left-deep, and nesting.
        "chain_plus": "{{ " + chain("1", "+", 20000) + " }}",
        "chain_concat": "{{ " + chain("'a'", " ~ ", 20000) + " }}",
        "chain_trim": '{{ "a"' + "|trim" * 20000 + " }}",
        "chain_attr": "{{ messages" + ".x" * 50000 + " }}",
        "chain_item": "{{ messages" + "[0]" * 50000 + " }}",
        "chain_call": "{{ f" + "()" * 50000 + " }}",
        "chain_and": "{{ " + chain("x", " and ", 20000) + " }}",
        "deep_parens": "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
        "deep_lists": "{{ " + "[" * 5000 + "]" * 5000 + " }}",
        "deep_if": "{% if 1 %}" * 2000 + "{% endif %}" * 2000,
        "deep_macro": "{% macro m(n) %}" + "{% if 1 %}" * 40 + "{{ m(n - 1) if n > 0 }}" + "{% endif %}" * 40
        + "{% endmacro %}{{ m(40) }}",
        "deep_namespace": "{% set ns = namespace(a=1) %}{% for i in range(100000) %}{% set ns.a = [ns.a] %}"
        "{% endfor %}{{ ns.a|tojson }}",
        # Work inside few steps.
        "unique_range": "{{ range(262143)|unique|list|length }}",
        "upper_loop": big + loop + "{% set t = s|upper %}{% endfor %}",
        "in_string_loop": big + loop + "{% set t = 'y' in s %}{% endfor %}",
        "in_list_loop": "{% set l = range(200000)|list %}" + loop + "{% set t = -1 in l %}{% endfor %}",
        "sort_loop": loop + "{% set t = range(262000)|reverse|sort %}{% endfor %}",
        "split_big": "{{ ('x ' * 8000000).split()|length }}",
        "repeat_shared": big + "{{ ([s] * 200000)|length }}",
        "grow_namespace": "{% set ns = namespace(a=[]) %}{% for i in range(199999) %}{% set ns.a = ns.a + [i] %}"
        "{% endfor %}",
        "output_big": "{% for i in range(199999) %}{{ 'x' * 1000 }}{% endfor %}",
    }


def messages_seeds():
    convo = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Zurich?"},
        {"role": "assistant", "content": "<think>\ntool\n</think>\n\n", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zurich"}}}]},
        {"role": "tool", "content": "{\"temp\": 21}"},
        {"role": "assistant", "content": "21 degrees."},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
    ]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    deep = "[" * 100000 + "]" * 100000
    return {
        "conversation": json.dumps(convo),
        "with_tools": json.dumps({"messages": convo, "tools": tools}),
        "deep_field": '[{"role":"user","content":"hi","x":' + deep + "}]",
        "deep_bare": deep,
        "deep_objects": '{"a":' * 40000 + "1" + "}" * 40000,
        "deep_in_string": json.dumps([{"role": "user", "content": "[" * 100000}]),
        "number_overflow": '[{"role":"user","content":"hi","n":1e999}]',
        "tool_call_output": "<tool_call>{\"name\": \"f\", \"arguments\": " + deep + "}</tool_call>",
        "many_messages": json.dumps([{"role": "user", "content": "x" * 50}] * 2000),
    }


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("template", "messages"):
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    seeds = template_seeds() if sys.argv[1] == "template" else messages_seeds()
    for name, text in seeds.items():
        (out / (name + (".jinja" if sys.argv[1] == "template" else ".json"))).write_text(text)


if __name__ == "__main__":
    main()
