#!/usr/bin/env python3
"""Writes the chat-template golden cases of tests/data/chat/ with Python's jinja2 as the oracle.

jinja2 is set up as Hugging Face transformers sets it up for chat templates (trim_blocks, lstrip_blocks,
loopcontrols, the {% generation %} tag, tojson without ASCII escaping, raise_exception, strftime_now pinned to
"26 Jul 2024" as in the shared fixtures). Cases either name a template of ../shared/fixtures/templates by file
name (nothing is copied) or carry a small template of their own. A case the template refuses through
raise_exception is written as {"error": true, "message": ...}; one where jinja2 itself fails (a TypeError or an
undefined value the template did not expect) as {"failure": "..."}: the engine must fail too, without refusing.

Usage: .venv/bin/python scripts/gen_template_goldens.py [--fixtures ../shared/fixtures]
"""
import argparse
import copy
import json
import pathlib

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "tests" / "data" / "chat"


class Refused(Exception):
    """raise_exception(msg) from the template."""


class GenerationTag(Extension):
    """transformers' {% generation %}...{% endgeneration %}: renders its body unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise Refused(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: "26 Jul 2024"
    return env


# ---------------------------------------------------------------------------------------------------------
# Conversations

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Météo actuelle d'une ville — « current weather »",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Unit"},
                "days": {"type": "integer", "description": "Forecast days"},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "limit": {"type": ["integer", "null"], "description": "Max results"},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags"},
            },
            "required": ["query"],
        },
    },
}

SIMPLE = [{"role": "user", "content": "Hello! Wie geht's? 你好"}]
SYSTEM = [{"role": "system", "content": "You are terse.\nAnswer in one line."}, {"role": "user", "content": "2+2?"}]
MULTI_THINK = [
    {"role": "system", "content": "Be helpful."},
    {"role": "user", "content": "What is 3*7?"},
    {"role": "assistant", "content": "<think>\n3 times 7 is 21.\n</think>\n\n21"},
    {"role": "user", "content": "And 6*7?"},
    {"role": "assistant", "content": "<think>\nSix sevens.\n</think>\n\n42"},
    {"role": "user", "content": "Thanks. Now 2**10?"},
]
MULTI_PLAIN = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello, how can I help?"},
    {"role": "user", "content": "  Tell me a joke.  "},
]
TOOL_CALL_ID = "call12345"
TOOL_TURN = [
    {"role": "system", "content": "You can use tools."},
    {"role": "user", "content": "Weather in Zürich and Paris?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": TOOL_CALL_ID, "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}},
        ],
    },
    {"role": "tool", "tool_call_id": TOOL_CALL_ID, "content": '{"temp": 21.5, "sky": "clear"}'},
    {"role": "assistant", "content": "It is 21.5 °C and clear in Zürich."},
    {"role": "user", "content": "And Paris?"},
]
TOOL_PARALLEL = [
    {"role": "user", "content": "Weather in Rome, then search news."},
    {
        "role": "assistant",
        "content": "<think>\nTwo calls needed.\n</think>\n\nLet me check.",
        "tool_calls": [
            {"id": "callAAAAA", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Rome", "days": 3}}},
            {"id": "callBBBBB", "type": "function",
             "function": {"name": "search", "arguments": '{"query": "Rome news", "limit": 5}'}},
        ],
    },
    {"role": "tool", "tool_call_id": "callAAAAA", "content": "sunny, 28"},
    {"role": "tool", "tool_call_id": "callBBBBB", "content": "<tool_response>nothing</tool_response>"},
]
REASONING_FIELD = [
    {"role": "user", "content": "Pick a number."},
    {"role": "assistant", "content": "7", "reasoning_content": "Lucky number."},
    {"role": "user", "content": "Why?"},
]

CONVERSATIONS = {
    "simple": (SIMPLE, None),
    "system": (SYSTEM, None),
    "multi_think": (MULTI_THINK, None),
    "multi_plain": (MULTI_PLAIN, None),
    "tools_turn": (TOOL_TURN, [WEATHER_TOOL]),
    "tools_parallel": (TOOL_PARALLEL, [WEATHER_TOOL, SEARCH_TOOL]),
    "tools_no_calls": (SIMPLE, [WEATHER_TOOL, SEARCH_TOOL]),
    "reasoning_field": (REASONING_FIELD, None),
}

SPECIAL_TOKENS = {
    "HuggingFaceTB-SmolLM3-3B.jinja": ("", "<|im_end|>"),
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": ("<|begin_of_text|>", "<|im_end|>"),
    "Qwen-Qwen2.5-7B-Instruct.jinja": ("", "<|im_end|>"),
    "Qwen-Qwen3-0.6B.jinja": ("", "<|im_end|>"),
    "Qwen3.5-4B.jinja": ("", "<|im_end|>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "google-gemma-2-2b-it.jinja": ("<bos>", "<eos>"),
    "ibm-granite-granite-3.3-2B-Instruct.jinja": ("", "<|end_of_text|>"),
    "meta-llama-Llama-3.1-8B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "microsoft-Phi-3.5-mini-instruct.jinja": ("<s>", "<|endoftext|>"),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("<s>", "</s>"),
}
THINKING_TEMPLATES = {"HuggingFaceTB-SmolLM3-3B.jinja", "Qwen-Qwen3-0.6B.jinja", "Qwen3.5-4B.jinja",
                      "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"}

# ---------------------------------------------------------------------------------------------------------
# Small templates of our own, one feature group each.

OWN_TEMPLATES = {
    "loop_vars": """{% for m in messages %}{{ loop.index }}/{{ loop.length }} {{ loop.index0 }} {{ loop.revindex }} \
{{ loop.revindex0 }} {{ loop.first }} {{ loop.last }} {{ loop.previtem.role if loop.previtem is defined else '-' }} \
{{ loop.nextitem.role if loop.nextitem is defined else '-' }} {{ loop.cycle('a', 'b') }}
{% endfor %}{% for m in messages if m.role == 'user' %}{{ loop.index }}:{{ m.content }}{{ ',' if not loop.last }}\
{% else %}no users{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}|\
{% for m in messages | reverse %}{{ m.role[0] }}{% endfor %}|{% for m in messages[::-1] %}{{ m.role[:2] }}{% endfor %}
{% for i in range(10) %}{% if i is odd %}{% continue %}{% endif %}{% if i > 6 %}{% break %}{% endif %}{{ i }}{% endfor %}
{% for k, v in {'a': 1, 'b': [1, 2]}.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in messages[0]|items %}{{ k }},{% endfor %}""",
    "namespace_macro": """{% set ns = namespace(count=0, last='', seen=[]) %}{% for m in messages %}\
{% set ns.count = ns.count + 1 %}{% set ns.last = m.role %}{% set ns.seen = ns.seen + [m.role] %}{% endfor %}\
{{ ns.count }} {{ ns.last }} {{ ns.seen | join('+') }}
{% macro show(m, prefix='>', upper=false) -%}
{{ prefix }} {{ (m.content | upper) if upper else m.content }}{{ ' ' ~ varargs|length if varargs }}
{%- endmacro %}
{% for m in messages %}{{ show(m) }}|{{ show(m, '#') }}|{{ show(m, upper=true) }}|{{ show(m, '*', true, 1, 2) }}
{% endfor %}{% set shadow = 'outer' %}{% for m in messages %}{% set shadow = m.role %}{% endfor %}{{ shadow }}
{% set block %}[{{ messages | length }} messages]{% endset %}{{ block }}{% filter upper %}shout {{ messages[0].role }}{% endfilter %}""",
    "filters": """{{ messages | map(attribute='role') | join(', ') }}
{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list | length }}
{{ messages | rejectattr('role', 'eq', 'user') | list | length }} {{ messages | selectattr('tool_calls') | list | length }}
{{ messages | map(attribute='role') | unique | sort | join(',') }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }}
{{ messages[0].content | trim | title }} {{ '  x  ' | trim }}| {{ 'hello world' | capitalize }} {{ 'a-b-c' | replace('-', '+') }}
{{ missing | default('dflt') }} {{ '' | default('empty', true) }} {{ none | default('n') }} {{ messages | first | attr('role') }} {{ (messages | last).role }}
{{ '42' | int + 1 }} {{ '4.5' | float }} {{ 'x' | int(7) }} {{ 3.7 | int }} {{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ -3 | abs }}
{{ [1, 2, 3] | sum }} {{ [4, 9, 2] | max }} {{ [4, 9, 2] | min }} {{ 'abc' | reverse }} {{ 'a b  c' | wordcount }} {{ [1, 2] | list }}
{{ {'b': 2, 'a': 1} | dictsort }} {{ 'line1\nline2\n\nline3' | indent(2) }} {{ 'x\ny' | indent(first=true) }}
{{ '<a href="x">&\\'</a>' | escape }} {{ 'Hi %s, you are %d' | format('Bob', 42) }} {{ 'a' | list }} {{ 'ÄÖü' | length }}
{{ [1, none, 'x'] | select | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ ['a', 'B'] | map('upper') | join }}""",
    "tojson": """{{ tools | tojson }}
{{ tools[0] | tojson(indent=2) }}
{{ {'z': 1, 'a': [1.5, 2e-7, 1e22, -0.0, true, none, 'é"\\\\\\n\\t<>&\\'']} | tojson }}
{{ {'z': 1, 'a': 2} | tojson(sort_keys=true) }} {{ [1, {'b': []}, {}] | tojson(indent=4) }}
{{ {'k': 'v', 'l': [1, 2]} | tojson(separators=(',', ':')) }} {{ 'ü' | tojson(ensure_ascii=true) }} {{ 'x' | tojson }}
{{ messages }} {{ messages[0] | string }} {{ [1.0, 'it\\'s', "q\\"", none, true] }}""",
    "strings": """{% for m in messages %}{{ m.content.startswith('Hel') }} {{ m.content.endswith(('?', '!')) }} \
{{ m.content.split(' ') }} {{ m.content.split() | length }} {{ m.content.strip('!? ') }} {{ m.content.lstrip('H') }} \
{{ m.content.rstrip('?') }} {{ m.content.replace('l', 'L', 1) }} {{ m.content.upper() }} {{ m.content.lower() }} \
{{ m.content.title() }} {{ m.content.find('o') }} {{ m.content.count('l') }} {{ m.content[1:4] }} {{ m.content[-3:] }} \
{{ m.content[::2] }} {{ m.content[0] }} {{ m.content[-1] }} {{ m.content | length }}
{% endfor %}{{ '{} and {name}'.format(1, name='two') }} {{ '-'.join(['a', 'b']) }} {{ 'a,b,,c'.split(',') }} \
{{ 'a b c'.rsplit(' ', 1) }} {{ '  pad  '.strip() }}| {{ 'abc'.isdigit() }} {{ '123'.isdigit() }} {{ 'x' ~ 1 ~ none ~ true }} \
{{ "it's" }} {{ 'say "hi"' }} {{ '\\u00e9\\x41\\n' | length }} {{ 'café au lait'[2:6] }} {{ 'ab' 'cd' }}""",
    "expressions": """{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} \
{{ 2 ** -1 }} {{ 1.5 * 2 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 123.456e3 }} {{ 10 / 5 }} {{ -2 ** 2 }}
{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ 1 == 1.0 }} {{ true == 1 }} \
{{ 'a' in 'cat' }} {{ 'x' not in ['x'] }} {{ 'role' in messages[0] }} {{ 3 in [1, 2, 3] }} {{ none is none }} {{ 1 != 2 }}
{{ 'yes' if messages else 'no' }} {{ 'a' if false }}|{{ 0 or 'fallback' }} {{ 'first' and 'second' }} {{ not none }} {{ [] or {} }}
{{ messages | length > 1 and messages[1].role == 'assistant' }} {{ (messages | length) - 1 }} {{ -(3) }} {{ +4 }}
{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = (1, 'x') %}{{ t[1] }} {{ [1, 2, 3][1:] }} {{ [1, 2, 3][:-1] }} {{ [1, 2, 3][5:] }} \
{{ [[1, 2], [3]][0][1] }} {{ {'a': {'b': 'deep'}}.a.b }} {{ {'a': 1}.get('a') }} {{ {'a': 1}.get('z', 'dz') }} {{ {'a': 1}.get('z') }} \
{{ dict(x=1, y=2) }} {{ {'a': 1}.keys() | list }} {{ {'a': 1}.values() | list }} {{ messages.0.role }} {{ [1, 2][-1] }}
{{ 3 is divisibleby 3 }} {{ 4 is even }} {{ 'x' is string }} {{ 1 is number }} {{ 1.0 is float }} {{ 1 is integer }} {{ true is boolean }} \
{{ {} is mapping }} {{ [] is iterable }} {{ 'ab' is sequence }} {{ undefined_name is undefined }} {{ 'a' is in 'abc' }} \
{{ 2 is gt 1 }} {{ 'ABC' is upper }} {{ 'abc' is lower }} {{ none is sameas none }} {{ range is callable }} \
{{ 5 is ne 5 }} {{ 1 is lessthan 2 }} {{ 3 is ge 3 }} {{ 1 is true }} {{ true is true }} {{ false is false }}
{{ range(3) | list }} {{ range(1, 10, 4) | list }} {{ range(5, 0, -2) | list }} {{ strftime_now('%d %b %Y') }}
{{ "%s-%s" % ('a', 'b') }} {{ '%d%%' % 50 }} {{ 'ab' * 3 }} {{ [0] * 3 }} {{ [1] + [2] }} {{ True }}{{ None }}{{ False }}""",
    "whitespace": """Line one
    {% if true %}
        indented text
    {% endif %}
  {%- if true %} stripped-left {% endif -%}
    after
{%+ if true %}kept-indent{% endif +%}
next line
  {# a comment #}
  {{- ' var-strip ' -}}
  mid
{% for m in messages %}
    {{ m.role }}
{% endfor %}
{% raw %}{{ not rendered }} {% if %}{% endraw %}
{%- generation %}gen {{ messages | length }}{% endgeneration %}
tail {{ '  ' }} end
""",
    "thinking_roundtrip": """{%- set ns = namespace(last_user=-1) -%}
{%- for m in messages -%}{%- if m.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}{%- endfor -%}
{%- for m in messages -%}
{%- if m.role == 'assistant' and '</think>' in m.content -%}
{%- set content = m.content.split('</think>')[-1].lstrip('\\n') -%}
{%- set reasoning = m.content.split('</think>')[0].split('<think>')[-1].strip('\\n') -%}
{%- if loop.index0 > ns.last_user -%}
<{{ m.role }}>[{{ reasoning }}]{{ content }}
{% else -%}
<{{ m.role }}>{{ content }}
{% endif -%}
{%- else -%}
<{{ m.role }}>{{ m.content }}
{% endif -%}
{%- endfor -%}
{%- if add_generation_prompt %}<assistant>{% if enable_thinking is defined and not enable_thinking %}[]{% endif %}{% endif -%}""",
    "refuse": """{%- for m in messages %}{% if m.role not in ['user', 'assistant', 'system'] %}\
{{ raise_exception('Unsupported role: ' ~ m.role) }}{% endif %}{% endfor -%}
{%- if messages | length == 0 %}{{ raise_exception("No messages provided.") }}{% endif -%}
ok {{ messages | length }}""",
}

OWN_CASES = [
    ("loop_vars", MULTI_PLAIN, None, {}),
    ("loop_vars", SYSTEM, None, {}),
    ("namespace_macro", MULTI_PLAIN, None, {}),
    ("filters", MULTI_PLAIN, None, {}),
    ("filters", TOOL_TURN, None, {}),
    ("tojson", SIMPLE, [WEATHER_TOOL, SEARCH_TOOL], {}),
    ("strings", [{"role": "user", "content": "Hello world?"}, {"role": "user", "content": "¡Héllo wörld!"}], None, {}),
    ("expressions", MULTI_PLAIN, None, {}),
    ("whitespace", MULTI_PLAIN, None, {}),
    ("thinking_roundtrip", MULTI_THINK, None, {"add_generation_prompt": True, "enable_thinking": False}),
    ("thinking_roundtrip", MULTI_THINK[:-1], None, {"add_generation_prompt": False}),
    ("refuse", MULTI_PLAIN, None, {}),
    ("refuse", TOOL_TURN, None, {}),
    ("refuse", [], None, {}),
]


def render(env, source, messages, tools, variables):
    template = env.from_string(source)
    kwargs = {"messages": messages, "tools": tools, "documents": None, "add_generation_prompt": False}
    kwargs.update(variables)
    try:
        return {"expected": template.render(**kwargs)}
    except Refused as e:
        return {"error": True, "message": str(e)}
    except (TypeError, RecursionError, jinja2.exceptions.UndefinedError) as e:  # the template itself fails on this input
        return {"failure": f"{type(e).__name__}: {e}"}


def shared_cases(env, templates_dir):
    cases = []
    for name, (bos, eos) in sorted(SPECIAL_TOKENS.items()):
        source = (templates_dir / name).read_text(encoding="utf-8")
        for conv_name, (messages, tools) in CONVERSATIONS.items():
            thinking = [True, False] if name in THINKING_TEMPLATES else [None]
            for enable_thinking in thinking:
                for agp in (True, False) if conv_name == "multi_plain" else (True,):
                    variables = {"add_generation_prompt": agp, "bos_token": bos, "eos_token": eos}
                    if enable_thinking is not None:
                        variables["enable_thinking"] = enable_thinking
                    case = {"name": f"{name}:{conv_name}:think={enable_thinking}:agp={agp}", "template": name,
                            "variables": variables, "messages": copy.deepcopy(messages), "tools": tools}
                    case.update(render(env, source, messages, tools, variables))
                    cases.append(case)
    return cases


def own_cases(env):
    cases = []
    for name, messages, tools, variables in OWN_CASES:
        source = OWN_TEMPLATES[name]
        case = {"name": name, "template_source": source, "variables": variables, "messages": messages, "tools": tools}
        case.update(render(env, source, messages, tools, variables))
        cases.append(case)
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", type=pathlib.Path, default=ROOT.parent / "shared" / "fixtures")
    args = ap.parse_args()
    env = make_env()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    outputs = {"own_templates.json": own_cases(env)}
    templates_dir = args.fixtures / "templates"
    if templates_dir.is_dir():
        outputs["shared_templates.json"] = shared_cases(env, templates_dir)
    else:
        print(f"note: {templates_dir} absent, shared-template cases not regenerated")
    for file_name, cases in outputs.items():
        path = OUT_DIR / file_name
        path.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        refused = sum(1 for c in cases if c.get("error"))
        print(f"{path.relative_to(ROOT)}: {len(cases)} cases ({refused} refused), jinja2 {jinja2.__version__}")


if __name__ == "__main__":
    main()
