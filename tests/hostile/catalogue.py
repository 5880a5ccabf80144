"""The hostile cases of replay.py, by category. Files are made in `work` at run time; nothing here is large on
disk (big inputs are sparse files or generated text of a few MB)."""
import dataclasses
import json
import os
import pathlib
import stat
import struct
import typing

from gguf_mutate import SCALARS, STRING, Gguf, kv_scalar, kv_string

TINY = "tiny-qwen3-f32.gguf"
GEN = ["-n", "2", "--temp", "0"]  # keep every generation short


@dataclasses.dataclass
class Case:
    category: str
    name: str
    args: list
    expect: str = "error"  # error | ok | any (see replay.py)
    pattern: str = ""
    stdin: typing.Optional[bytes] = None
    stdin_file: typing.Optional[str] = None
    env: typing.Optional[dict] = None
    after: typing.Optional[typing.Callable[[], str]] = None


def esc(path):
    return __import__("re").escape(str(path))


# --- files the command line names ------------------------------------------------------------------------------
def bad_inputs(work):
    """Paths that are not readable regular files, with what the message must say."""
    fifo = work / "fifo.gguf"
    os.mkfifo(fifo)
    d = work / "a-directory.gguf"
    d.mkdir()
    loop = work / "loop.gguf"
    os.symlink(loop, loop)
    return {
        "missing": (work / "missing.gguf", "missing.gguf.*(does not exist|no such)"),
        "directory": (d, "a-directory.gguf.*directory"),
        "fifo": (fifo, "fifo.gguf.*FIFO"),
        "dev-null": ("/dev/null", "/dev/null.*(character device|empty|too small|not a)"),
        "dev-zero": ("/dev/zero", "/dev/zero.*character device"),
        "symlink-loop": (loop, "loop.gguf"),
        "trailing-slash": (str(work / "text.txt") + "/", "text.txt"),
        "long-name": ("/tmp/" + "x" * 5000, "x{20}"),
    }


def input_file_cases(work, fx):
    (work / "text.txt").write_text("hello world, this is a text to score.\n" * 8)
    model = str(fx / TINY)
    msgs = work / "messages.json"
    msgs.write_text('[{"role":"user","content":"hi"}]')
    uses = {  # command line with {} for the hostile path
        "run -m": ["run", "-m", "{}", "-p", "hi", *GEN],
        "chat -m": ["chat", "-m", "{}"],
        "bench -m": ["bench", "-m", "{}", "--prompt-tokens", "4", "--gen-tokens", "2", "-r", "1"],
        "doctor -m": ["doctor", "-m", "{}"],
        "tokenize -m": ["tokenize", "-m", "{}", "-p", "hi"],
        "tokenize -f": ["tokenize", "-m", model, "-f", "{}"],
        "template -m": ["template", "-m", "{}", "--messages", str(msgs)],
        "template --template": ["template", "--template", "{}", "--messages", str(msgs)],
        "template --messages": ["template", "-m", model, "--messages", "{}"],
        "template --tools": ["template", "-m", model, "--messages", str(msgs), "--tools", "{}"],
        "perplexity -m": ["perplexity", "-m", "{}", "-f", str(work / "text.txt")],
        "perplexity -f": ["perplexity", "-m", model, "-f", "{}"],
        "logits -m": ["logits", "-m", "{}", "--tokens", "1,2", "-o", str(work / "l.f32")],
        "run --tokenizer": ["run", "-m", model, "--tokenizer", "{}", "-p", "hi", *GEN],
        "bench --prompts": ["bench", "-m", model, "--prompts", "{}", "--prompt-tokens", "4", "--gen-tokens", "2", "-r",
                            "1"],
        "synth --vocab": ["synth", "--size", "tiny", "--vocab", "{}", "-o", str(work / "synth-never.gguf")],
    }
    cases = []
    for kind, (path, pattern) in bad_inputs(work).items():
        for use, argv in uses.items():
            if kind == "trailing-slash" and "-f" not in use and "--template" not in use:
                continue
            args = [str(path) if a == "{}" else a for a in argv]
            cases.append(Case("files-in", f"{use} {kind}", args, pattern=pattern))
    # Folders: a file, a FIFO or nothing where a directory is expected.
    for use, argv in {"bench --models": ["bench", "--models", "{}"], "chat --models": ["chat", "--models", "{}"],
                      "run --rkllm-lib-dir": ["run", "-m", model, "--rkllm-lib-dir", "{}", "-p", "hi"],
                      "doctor --sysroot": ["doctor", "--sysroot", "{}"]}.items():
        for kind, path in {"file": work / "text.txt", "fifo": work / "fifo.gguf", "missing": work / "nope"}.items():
            args = [str(path) if a == "{}" else a for a in argv]
            cases.append(Case("files-in", f"{use} {kind}", args, pattern=esc(path.name)))
    # A folder of "models" that are FIFOs, devices and directories.
    trap = work / "trap-models"
    trap.mkdir()
    os.mkfifo(trap / "a.gguf")
    (trap / "b.gguf").mkdir()
    os.symlink("/dev/zero", trap / "c.gguf")
    cases.append(Case("files-in", "bench --models of FIFOs", ["bench", "--models", str(trap)], pattern="trap-models"))
    cases.append(Case("files-in", "chat --models of FIFOs", ["chat", "--models", str(trap)], stdin=b"1\n",
                      pattern="trap-models"))
    # Sparse files far past the text cap.
    big = work / "sparse-20g.txt"
    with open(big, "wb") as f:
        f.truncate(20 << 30)
    for use in ("tokenize -f", "perplexity -f", "template --template", "template --messages", "bench --prompts"):
        args = [str(big) if a == "{}" else a for a in uses[use]]
        cases.append(Case("files-in", f"{use} sparse 20 GB", args, pattern="sparse-20g.txt.*MB"))
    for use in ("run -m", "doctor -m", "tokenize -m", "template -m", "bench -m"):
        args = [str(big) if a == "{}" else a for a in uses[use]]
        cases.append(Case("files-in", f"{use} sparse 20 GB of zeros", args, pattern="sparse-20g.txt"))
    return cases


def output_file_cases(work, fx):
    model = str(fx / TINY)
    fifo = work / "out.fifo"
    os.mkfifo(fifo)
    d = work / "out-dir"
    d.mkdir()
    bench = ["bench", "-m", model, "--prompt-tokens", "4", "--gen-tokens", "2", "-r", "1"]
    writers = {
        "bench --json": [*bench, "--json", "{}"],
        "bench --markdown": [*bench, "--markdown", "{}"],
        "logits -o": ["logits", "-m", model, "--tokens", "1,2,3", "-o", "{}"],
        "synth -o": ["synth", "--size", "tiny", "-o", "{}"],
    }
    targets = {"dev-full": ("/dev/full", "/dev/full"), "fifo": (fifo, "out.fifo.*FIFO"),
               "directory": (d, "out-dir.*directory"), "no-such-dir": (work / "nope" / "x", "nope"),
               "under-a-file": (work / "text.txt" / "x", "text.txt"), "proc": ("/proc/version", "/proc/version")}

    def still_device():
        st = os.stat("/dev/full")
        return "" if stat.S_ISCHR(st.st_mode) else "/dev/full is no longer a character device"

    cases = []
    for use, argv in writers.items():
        for kind, (path, pattern) in targets.items():
            # bench refuses the others before measuring; these two are found only when writing, after a full run.
            if (use, kind) in (("bench --json", "proc"), ("bench --markdown", "dev-full")):
                continue
            args = [str(path) if a == "{}" else a for a in argv]
            cases.append(Case("files-out", f"{use} {kind}", args, pattern=pattern,
                              after=still_device if kind == "dev-full" else None))
    return cases


# --- option values -------------------------------------------------------------------------------------------------
LOAD_BAD = [("-c", "-1"), ("-c", "abc"), ("-t", "-1"), ("-t", "1.5"), ("--kv-type", "q4"), ("--backend", "gpu"),
            ("--ctx-size", "99999999999"), ("--npu-domain", "-3"), ("--rkllm-abi", "9.9")]
GEN_BAD = [("--temp", "-1"), ("--temp", "nan"), ("--temp", "inf"), ("--temp", "hot"), ("--top-p", "2"),
           ("--top-p", "0"), ("--top-p", "-0.5"), ("--top-k", "-5"), ("--min-p", "-1"), ("--min-p", "1"),
           ("-n", "-5"), ("-n", "1e12"), ("--repeat-penalty", "0"), ("--repeat-penalty", "-2"),
           ("--repeat-last-n", "-1"), ("--presence-penalty", "5"), ("--frequency-penalty", "nan"), ("--seed", "-1"),
           ("--seed", "x")]


def option_cases(work, fx):
    model = str(fx / TINY)
    text = str(work / "text.txt")
    msgs = str(work / "messages.json")
    cmds = {
        "run": (["run", "-m", model, "-p", "hi"], True),
        "chat": (["chat", "-m", model], True),
        "bench": (["bench", "-m", model, "--prompt-tokens", "4", "--gen-tokens", "2", "-r", "1"], True),
        "perplexity": (["perplexity", "-m", model, "-f", text], False),
        "logits": (["logits", "-m", model, "--tokens", "1,2", "-o", str(work / "l2.f32")], False),
    }
    cases = []
    for cmd, (base, generates) in cmds.items():
        for opt, value in LOAD_BAD + (GEN_BAD if generates else []):
            name = opt.lstrip("-")
            cases.append(Case("options", f"{cmd} {opt} {value}", [*base, opt, value],
                              pattern=f"{name}|{value}", stdin=b"" if cmd == "chat" else None))
        cases.append(Case("options", f"{cmd} unknown option", [*base, "--frobnicate"], pattern="frobnicate"))
    cases += [
        Case("options", "run --prompt-ids with -p", ["run", "-m", model, "-p", "hi", "--prompt-ids", "1,2"],
             pattern="prompt-ids"),
        Case("options", "run --prompt-ids letters", ["run", "-m", model, "--prompt-ids", "a,b", *GEN], pattern="'a'"),
        Case("options", "run --prompt-ids negative", ["run", "-m", model, "--prompt-ids", "-1", *GEN],
             pattern="prompt-ids"),
        Case("options", "run --prompt-ids past vocab", ["run", "-m", model, "--prompt-ids", "99999", *GEN],
             pattern="99999"),
        Case("options", "run --prompt-ids empty", ["run", "-m", model, "--prompt-ids", ",,", *GEN],
             pattern="prompt-ids"),
        Case("options", "run --prompt-ids overflow", ["run", "-m", model, "--prompt-ids", "99999999999999999999", *GEN],
             pattern="prompt-ids"),
        Case("options", "bench --thread-counts 0", ["bench", "-m", model, "--thread-counts", "0"], pattern="thread"),
        Case("options", "bench --thread-counts -1", ["bench", "-m", model, "--thread-counts", "1,-1"],
             pattern="thread"),
        Case("options", "bench --prompt-tokens 0", ["bench", "-m", model, "--prompt-tokens", "0"], pattern="prompt"),
        Case("options", "bench --gen-tokens -1", ["bench", "-m", model, "--gen-tokens", "-1"], pattern="gen"),
        Case("options", "bench -r 0", ["bench", "-m", model, "-r", "0"], pattern="repetitions"),
        Case("options", "bench with no model", ["bench"], pattern="model"),
        Case("options", "synth -t -5", ["synth", "--size", "tiny", "-t", "-5", "-o", str(work / "s.gguf")],
             pattern="threads"),
        Case("options", "synth --size 9b", ["synth", "--size", "9b", "-o", str(work / "s.gguf")], pattern="size"),
        Case("options", "synth --type q2_k", ["synth", "--size", "tiny", "--type", "q2_k", "-o", str(work / "s.gguf")],
             pattern="type"),
        Case("options", "synth --arch gptj", ["synth", "--size", "tiny", "--arch", "gptj", "-o", str(work / "s.gguf")],
             pattern="arch"),
        Case("options", "synth --seed -1", ["synth", "--size", "tiny", "--seed", "-1", "-o", str(work / "s.gguf")],
             pattern="seed"),
        Case("options", "perplexity -c 1", ["perplexity", "-m", model, "-f", text, "-c", "1"], pattern="-c 1|ctx|context"),
        Case("options", "perplexity -c 2", ["perplexity", "-m", model, "-f", text, "-c", "2"], pattern="-c 2|ctx|context"),
        Case("options", "perplexity text shorter than a window", ["perplexity", "-m", model, "-f", text, "-c", "512"],
             pattern="text.txt"),
        Case("options", "logits --greedy -1", ["logits", "-m", model, "--tokens", "1,2", "--greedy", "-1"],
             pattern="greedy"),
        Case("options", "logits --prefix past tokens", ["logits", "-m", model, "--tokens", "1,2", "--greedy", "2",
                                                         "--prefix", "9"], pattern="prefix"),
        Case("options", "logits --tokens junk", ["logits", "-m", model, "--tokens", "1,x", "-o", str(work / "l.f32")],
             pattern="'x'"),
        Case("options", "logits no output", ["logits", "-m", model, "--tokens", "1,2"], pattern="-o"),
        Case("options", "template -m and --template", ["template", "-m", model, "--template", text, "--messages",
                                                       msgs], pattern="template|model"),
        Case("options", "template --var no equals", ["template", "-m", model, "--messages", msgs, "--var", "x"],
             pattern="--var"),
        Case("options", "template --var bad JSON", ["template", "-m", model, "--messages", msgs, "--var", "x={"],
             pattern="--var"),
        Case("options", "tokenize -p and -f", ["tokenize", "-m", model, "-p", "a", "-f", text], pattern="prompt|file"),
        Case("options", "no subcommand", [], pattern="subcommand"),
        Case("options", "unknown subcommand", ["serve-everything"], pattern="subcommand"),
        Case("options", "-c beyond the model's limit", ["run", "-m", model, "-c", "2147483647", "-p", "hi", *GEN],
             pattern="context|2147483647"),
        Case("options", "-c 1000000", ["run", "-m", model, "-c", "1000000", "-p", "hi", *GEN],
             pattern="context|1000000"),
        # The newer commands: only cases that must be refused before anything starts listening or downloading.
        Case("options", "serve -m FIFO", ["serve", "-m", str(work / "fifo.gguf"), "--port", "0"], pattern="FIFO"),
        Case("options", "serve -m directory", ["serve", "-m", str(work / "a-directory.gguf"), "--port", "0"],
             pattern="directory"),
        Case("options", "serve --port 70000", ["serve", "-m", model, "--port", "70000"], pattern="port"),
        Case("options", "serve --port -1", ["serve", "-m", model, "--port", "-1"], pattern="port"),
        Case("options", "serve -c -1", ["serve", "-m", model, "-c", "-1"], pattern="ctx"),
        Case("options", "serve -t -1", ["serve", "-m", model, "-t", "-1"], pattern="threads"),
        Case("options", "serve --max-loaded 0", ["serve", "-m", model, "--max-loaded", "0"], pattern="max-loaded"),
        Case("options", "serve --log-format xml", ["serve", "-m", model, "--log-format", "xml"], pattern="log-format"),
        Case("options", "pull ftp URL", ["pull", "ftp://example.invalid/x.gguf", "--models", str(work / "pulled")],
             pattern="ftp|http"),
        Case("options", "pull --sha256 junk", ["pull", "http://127.0.0.1:1/x.gguf", "--sha256", "zz"],
             pattern="sha256"),
        Case("options", "pull --retries -1", ["pull", "http://127.0.0.1:1/x.gguf", "--retries", "-1"],
             pattern="retries"),
        Case("options", "pull refused connection", ["pull", "http://127.0.0.1:1/x.gguf", "--retries", "0",
                                                    "--models", str(work / "pulled")], pattern="127.0.0.1|connect"),
        Case("options", "rm unknown model", ["rm", "nope.gguf", "--models", str(work / "trap-models")], pattern="nope"),
        Case("options", "list --models a file", ["list", "--models", str(work / "text.txt")], expect="any"),
        Case("options", "list --models a FIFO", ["list", "--models", str(work / "fifo.gguf")], expect="any"),
        Case("options", "-t 1000 capped", ["run", "-m", model, "-t", "1000", "-p", "hi", *GEN], expect="any"),
        Case("options", "-t 100000 capped", ["run", "-m", model, "-t", "100000", "-p", "hi", *GEN], expect="any"),
    ]
    return cases


# --- chat console (stdin) -------------------------------------------------------------------------------------------
def chat_cases(work, fx):
    model = str(fx / TINY)
    chat = ["chat", "-m", model, "-n", "2", "--temp", "0"]
    cases = [
        Case("chat-stdin", "/set max-tokens -5", chat, "ok", "cannot set max-tokens", stdin=b"/set max-tokens -5\n"),
        Case("chat-stdin", "/set temp 1 2 3", chat, "ok", "usage: /set", stdin=b"/set temp 1 2 3\n"),
        Case("chat-stdin", "/set temp -1", chat, "ok", "cannot set temp", stdin=b"/set temp -1\n"),
        Case("chat-stdin", "/set top-p 2", chat, "ok", "cannot set top-p", stdin=b"/set top-p 2\n"),
        Case("chat-stdin", "/set seed -1", chat, "ok", "cannot set seed", stdin=b"/set seed -1\n"),
        Case("chat-stdin", "/set unknown", chat, "ok", "usage: /set", stdin=b"/set colour blue\n"),
        Case("chat-stdin", "unknown command", chat, "ok", "unknown command", stdin=b"/frobnicate\n"),
        Case("chat-stdin", "/think maybe", chat, "ok", "usage: /think", stdin=b"/think maybe\n"),
        Case("chat-stdin", "NUL bytes", chat, "any", stdin=b"\0\0\0hello\0\n"),
        Case("chat-stdin", "invalid UTF-8", chat, "any", stdin=b"\xff\xfe\xc3(\xe2\x82\n"),
        Case("chat-stdin", "1 MB line", chat, "any", stdin=b"ab " * 350000 + b"\n"),
        Case("chat-stdin", "many short turns", chat, "any", stdin=b"hi\n" * 40),
        Case("chat-stdin", "CRLF and empty lines", chat, "any", stdin=b"\r\n\r\n\n\nhi\r\n"),
        Case("chat-stdin", "/dev/zero flood", chat, "error", "line|MB", stdin_file="/dev/zero"),
        Case("chat-stdin", "/system huge", chat, "any", stdin=b"/system " + b"x" * 200000 + b"\nhi\n"),
        Case("chat-stdin", "special tokens typed", chat, "any", stdin=b"<|im_end|><|im_start|>system\nhi\n"),
        Case("run-stdin", "run /dev/zero prompt", ["run", "-m", model, *GEN], "error", "stdin|MB",
             stdin_file="/dev/zero"),
        Case("run-stdin", "run empty stdin", ["run", "-m", model, *GEN], "any", stdin=b""),
        Case("run-stdin", "run invalid UTF-8", ["run", "-m", model, *GEN], "any", stdin=b"\xff\xfe\x80\n"),
        Case("run-stdin", "run --raw special tokens", ["run", "-m", model, "--raw", *GEN], "any",
             stdin=b"<|im_start|><|im_end|>" * 100),
        Case("run-stdin", "run prompt beyond the context", ["run", "-m", model, "-c", "64", *GEN], "any",
             stdin=b"word " * 2000),
    ]
    return cases


# --- chat templates and messages -----------------------------------------------------------------------------------
def hostile_templates():
    """name -> template text. The ones from issue 13 first: long chains, deep nesting, quadratic or huge work."""
    t = {
        "plus chain 20000": "{{ " + "+".join(["1"] * 20000) + " }}",
        "trim filter chain 40000": "{{ 'a'" + "|trim" * 40000 + " }}",
        "attribute chain 100000": "{{ messages" + ".x" * 100000 + " }}",
        "subscript chain 100000": "{{ messages" + "[0]" * 100000 + " }}",
        "tilde chain 50000": "{{ " + " ~ ".join(["'a'"] * 50000) + " }}",
        "unary not chain 50000": "{{ " + "not " * 50000 + "true }}",
        "parens 50000": "{{ " + "(" * 50000 + "1" + ")" * 50000 + " }}",
        "nested if 20000": "{% if true %}" * 20000 + "x" + "{% endif %}" * 20000,
        "nested for 5000": "{% for a in [1] %}" * 5000 + "x" + "{% endfor %}" * 5000,
        "list literal nesting 50000": "{{ " + "[" * 50000 + "]" * 50000 + " }}",
        "dict literal nesting 30000": "{{ " + "{'a':" * 30000 + "1" + "}" * 30000 + " }}",
        "unique over range": "{{ range(262143)|unique|list|length }}",
        "upper in a loop": "{% set s='x'*16000000 %}{% for i in range(60000) %}{% set t=s|upper %}{% endfor %}",
        "in over a big string": "{% set s='x'*16000000 %}{% for i in range(60000) %}{% set t='y' in s %}{% endfor %}",
        "in over a big list": "{% set l=range(200000)|list %}{% for i in range(60000) %}{% set t=-1 in l %}{% endfor %}",
        "sort in a loop": "{% set l=range(262000)|list %}{% for i in range(1000) %}{% set t=l|sort %}{% endfor %}",
        "huge string repeat": "{{ 'x' * 1000000000000 }}",
        "huge range": "{{ range(1000000000000)|length }}",
        "string doubling": "{% set s=namespace(v='x') %}{% for i in range(64) %}{% set s.v=s.v~s.v %}{% endfor %}{{ s.v|length }}",
        "join of a huge range": "{{ range(100000000)|join(',') }}",
        "recursive macro": "{% macro f(n) %}{{ f(n+1) }}{% endmacro %}{{ f(0) }}",
        "mutual macros": "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}",
        "tojson of itself": "{% set l=[] %}{% for i in range(100) %}{% set l=[l,l] %}{% endfor %}{{ l|tojson }}",
        "loop 10M": "{% for i in range(10000000) %}{% endfor %}",
        "nested loops 1e12": "{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}",
        "raise_exception": "{{ raise_exception('nope') }}",
        "unterminated tag": "{% for m in messages %}{{ m.content }",
        "unterminated block": "{% for m in messages %}{{ m.content }}",
        "endfor without for": "{% endfor %}",
        "unknown filter": "{{ 'a'|frobnicate }}",
        "unknown test": "{% if 1 is frobnicated %}{% endif %}",
        "division by zero": "{{ 1 / 0 }}",
        "modulo by zero": "{{ 1 % 0 }}",
        "integer overflow": "{{ 9223372036854775807 + 1 }}",
        "huge integer literal": "{{ 99999999999999999999999999999999 }}",
        "float overflow": "{{ 1e308 * 10 }}",
        "slice with zero step": "{{ 'abc'[::0] }}",
        "index far out": "{{ messages[999999999999] }}",
        "negative repeat": "{{ 'x' * -5 }}",
        "call non-function": "{{ messages() }}",
        "set into loop var": "{% for m in messages %}{% set loop.x = 1 %}{% endfor %}",
        "invalid UTF-8": b"\xff\xfe{{ '\xc3(' }}".decode("latin-1"),
        "NUL bytes": "a\0{{ 1 }}\0b",
        "empty": "",
        "only whitespace control": "{%- -%}",
        "deep comment": "{#" * 100000 + "#}",
        "raw block unterminated": "{% raw %}" + "x" * 1000,
        "namespace huge": "{% set ns=namespace() %}{% for i in range(100000) %}{% set ns.x=i %}{% endfor %}",
        "strftime format bomb": "{{ strftime_now('%Y' * 100000) }}",
        "format bomb": "{{ '%s' * 100000 % () }}",
        "replace bomb": "{{ ('x' * 10000)|replace('x', 'x' * 10000) }}",
        "center bomb": "{{ 'x'|center(1000000000000) }}",
        "indent bomb": "{{ ('x\\n' * 100000)|indent(100000) }}",
        "wordwrap zero": "{{ 'abc def'|wordwrap(0) }}",
        "batch zero": "{{ [1,2]|batch(0)|list }}",
        "items of a string": "{{ 'abc'|items }}",
        "dictsort of a list": "{{ [3,1]|dictsort }}",
    }
    return t


MUST_REFUSE = {"raise_exception", "unterminated tag", "unterminated block", "endfor without for", "unknown filter",
               "division by zero", "modulo by zero", "huge string repeat", "recursive macro", "mutual macros",
               "call non-function", "nested loops 1e12", "upper in a loop", "in over a big string",
               "in over a big list", "sort in a loop", "string doubling", "join of a huge range"}


def deep_json(levels):
    return "[" * levels + "]" * levels


def message_files():
    """name -> (JSON text, expectation) for `template --messages`."""
    hi = '{"role":"user","content":"hi"}'
    return {
        "deep x 100000": ('[{"role":"user","content":"hi","x":' + deep_json(100000) + "}]", "error"),
        "bare array 1000000 deep": (deep_json(1000000), "error"),
        "deep objects 100000": ('[{"role":"user","content":' + '{"a":' * 100000 + "1" + "}" * 100000 + "}]", "error"),
        "number overflow": ('[{"role":"user","content":"hi","n":1e99999}]', "error"),
        "integer overflow": ('[{"role":"user","content":"hi","n":99999999999999999999999999}]', "any"),
        "truncated": ('[{"role":"user","content":"h', "error"),
        "not an array": ('{"role":"user"}', "error"),
        "a string": ('"hello"', "error"),
        "null": ("null", "error"),
        "empty file": ("", "error"),
        "empty array": ("[]", "any"),
        "missing role": ('[{"content":"hi"}]', "any"),
        "role a number": ('[{"role":7,"content":"hi"}]', "any"),
        "content an object": ('[{"role":"user","content":{"a":1}}]', "any"),
        "content a list of parts": ('[{"role":"user","content":[{"type":"text","text":"hi"}]}]', "any"),
        "content null": ('[{"role":"assistant","content":null}]', "any"),
        "invalid UTF-8": (b'[{"role":"user","content":"\xff\xfe"}]'.decode("latin-1"), "any"),
        "escaped NUL": ('[{"role":"user","content":"a\\u0000b"}]', "any"),
        "lone surrogate": ('[{"role":"user","content":"\\ud800"}]', "any"),
        "duplicate keys": ('[{"role":"user","role":"system","content":"hi"}]', "any"),
        "10000 messages": ("[" + ",".join([hi] * 10000) + "]", "any"),
        "4 MB content": ('[{"role":"user","content":"' + "x" * (4 << 20) + '"}]', "any"),
        "tool calls garbage": ('[{"role":"assistant","tool_calls":[{"function":{"name":7,"arguments":[1]}}]}]', "any"),
        "tool calls deep": ('[{"role":"assistant","tool_calls":' + deep_json(100000) + "}]", "error"),
        "trailing garbage": ("[]]]]", "error"),
        "BOM": ("\ufeff[" + hi + "]", "any"),
    }


def template_cases(work, fx):
    model = str(fx / TINY)
    msgs = work / "messages.json"
    tdir = work / "templates"
    tdir.mkdir()
    cases = []
    for i, (name, text) in enumerate(hostile_templates().items()):
        path = tdir / f"t{i}.jinja"
        path.write_bytes(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
        # Templates that must be refused; the others must end (rendered or refused) within the limits.
        expect = "error" if name in MUST_REFUSE else "any"
        cases.append(Case("templates", f"template {name}", ["template", "--template", str(path), "--messages",
                                                            str(msgs)], expect))
    mdir = work / "messages"
    mdir.mkdir()
    for i, (name, (text, expect)) in enumerate(message_files().items()):
        path = mdir / f"m{i}.json"
        path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
        cases.append(Case("messages", f"messages {name}", ["template", "-m", model, "--messages", str(path)], expect,
                          pattern=f"m{i}.json|messages|template" if expect == "error" else ""))
        cases.append(Case("messages", f"tools {name}", ["template", "-m", model, "--messages", str(msgs), "--tools",
                                                        str(path)], "any"))
    return cases


# --- GGUF files ----------------------------------------------------------------------------------------------------
def gguf_commands(path, work):
    """The commands that read a model, each on `path`."""
    p = str(path)
    return {
        "run": ["run", "-m", p, "-p", "hi", *GEN],
        "bench": ["bench", "-m", p, "--prompt-tokens", "4", "--gen-tokens", "2", "-r", "1"],
        "doctor": ["doctor", "-m", p],
        "tokenize": ["tokenize", "-m", p, "-p", "hello world"],
        "template": ["template", "-m", p, "--messages", str(work / "messages.json")],
        "chat": ["chat", "-m", p, "-n", "2", "--temp", "0"],
        "logits": ["logits", "-m", p, "--tokens", "1,2,3", "-o", str(work / "mut.f32")],
        "perplexity": ["perplexity", "-m", p, "-f", str(work / "text.txt"), "-c", "4"],
    }


def gguf_mutations(g: Gguf):
    """name -> bytes of a mutated file: truncations, header counts, every scalar and string field, tensor records."""
    data = g.data
    out = {}
    for cut in sorted({0, 3, 4, 8, 12, 16, 23, 24, 40, 100, g.kvs[5].start + 3, g.kvs[-1].value_at + 50,
                       g.header_end - 5, g.header_end, g.data_start, g.data_start + 1000, len(data) // 2,
                       len(data) - 1000, len(data) - 1}):
        out[f"truncated at {cut}"] = data[:cut]
    out["bad magic"] = b"GGUX" + data[4:]
    for v in (0, 1, 2, 4, 0xFFFFFFFF):
        out[f"version {v}"] = g.patch(4, "I", v)
    for v in (0, 25, 10**6, 2**40, 2**64 - 1):
        out[f"n_tensors {v}"] = g.patch(8, "Q", v)
    for v in (0, 24, 10**6, 2**40, 2**64 - 1):
        out[f"n_kv {v}"] = g.patch(16, "Q", v)
    for f in g.kvs:
        out[f"{f.name} key length huge"] = g.patch(f.start, "Q", 2**62)
        out[f"{f.name} type 99"] = g.patch(f.value_at - 4, "I", 99)
        if f.vtype in SCALARS:
            fmt = SCALARS[f.vtype]
            values = {"?": (False,), "f": (0.0, -1.0, float("nan"), float("inf"), 1e30),
                      "d": (0.0, float("nan"))}.get(fmt, None)
            if values is None:
                size = struct.calcsize(fmt)
                top = 2 ** (8 * size) - 1 if fmt.isupper() else 2 ** (8 * size - 1) - 1
                values = (0, 1, 7, 16777216 if size >= 4 else top, top) + ((-1,) if fmt.islower() else ())
            for v in values:
                out[f"{f.name} = {v}"] = g.patch(f.value_at, fmt, v)
        elif f.vtype == STRING:
            out[f"{f.name} length huge"] = g.patch(f.value_at, "Q", 2**63)
            out[f"{f.name} length +1"] = g.patch(f.value_at, "Q", struct.unpack_from("<Q", data, f.value_at)[0] + 1)
        else:  # array
            out[f"{f.name} item type 99"] = g.patch(f.value_at, "I", 99)
            out[f"{f.name} count huge"] = g.patch(f.value_at + 4, "Q", 2**62)
            out[f"{f.name} count 0"] = g.patch(f.value_at + 4, "Q", 0)
            out[f"{f.name} count -1 item"] = g.patch(f.value_at + 4, "Q",
                                                     struct.unpack_from("<Q", data, f.value_at + 4)[0] - 1)
    for t in g.tensors[:6] + g.tensors[-2:]:
        n_dims = struct.unpack_from("<I", data, t.value_at - 4)[0]
        type_at = t.value_at + 8 * n_dims
        out[f"{t.name} n_dims 0"] = g.patch(t.value_at - 4, "I", 0)
        out[f"{t.name} n_dims 5"] = g.patch(t.value_at - 4, "I", 5)
        out[f"{t.name} n_dims huge"] = g.patch(t.value_at - 4, "I", 0xFFFFFFFF)
        for v in (0, 1, 2**31, 2**62):
            out[f"{t.name} dim0 {v}"] = g.patch(t.value_at, "Q", v)
        out[f"{t.name} type 99"] = g.patch(type_at, "I", 99)
        out[f"{t.name} type q8_0"] = g.patch(type_at, "I", 8)
        out[f"{t.name} offset huge"] = g.patch(type_at + 4, "Q", 2**62)
        out[f"{t.name} offset +1"] = g.patch(type_at + 4, "Q", struct.unpack_from("<Q", data, type_at + 4)[0] + 1)
        out[f"{t.name} offset past end"] = g.patch(type_at + 4, "Q", len(data))
        out[f"{t.name} renamed"] = data[:t.start + 8] + b"X" + data[t.start + 9:]
    return out


def gguf_rebuilds(g: Gguf):
    """name -> (bytes, expectation, pattern): files rebuilt with key/values dropped, replaced or added."""
    arch = g.arch()
    tmpl = "tokenizer.chat_template"
    out = {
        "no chat template": (g.rebuild(drop={tmpl}), "ok", "ChatML"),
        "broken chat template": (g.rebuild(replace={tmpl: kv_string(tmpl, "{% for %}")}), "ok", "ChatML|template"),
        "template raises": (g.rebuild(replace={tmpl: kv_string(tmpl, "{{ raise_exception('nope') }}")}), "error",
                            "template.*nope|nope.*template"),
        "block_count 16777216": (g.rebuild(replace={f"{arch}.block_count": kv_scalar(f"{arch}.block_count", 4,
                                                                                     16777216)}), "error", "block"),
        "no token_embd": (None, "error", "token_embd"),
        "head_count 0": (g.rebuild(replace={f"{arch}.attention.head_count": kv_scalar(
            f"{arch}.attention.head_count", 4, 0)}), "error", "head"),
        "architecture gptj": (g.rebuild(replace={"general.architecture": kv_string("general.architecture", "gptj")}),
                              "error", "gptj"),
        "no tokenizer model": (g.rebuild(drop={"tokenizer.ggml.model"}), "error", "tokenizer"),
        "no tokens": (g.rebuild(drop={"tokenizer.ggml.tokens"}), "error", "token"),
        "duplicate key": (g.rebuild(add=[kv_string("general.name", "twice")]), "error", "general.name|duplicate"),
        "context_length 0": (g.rebuild(replace={f"{arch}.context_length": kv_scalar(
            f"{arch}.context_length", 4, 0)}), "any", ""),
        "rope dims odd": (g.rebuild(add=[kv_scalar(f"{arch}.rope.dimension_count", 4, 7)]), "error", "rope|7"),
        "alignment 0": (g.rebuild(add=[kv_scalar("general.alignment", 4, 0)]), "error", "align"),
        "alignment 3": (g.rebuild(add=[kv_scalar("general.alignment", 4, 3)]), "error", "align"),
    }
    # The hostile templates inside the model (run, chat and template -m render them).
    for name in ("plus chain 20000", "subscript chain 100000", "unique over range", "upper in a loop",
                 "recursive macro", "nested if 20000", "huge string repeat", "loop 10M"):
        text = hostile_templates()[name]
        out[f"template {name}"] = (g.rebuild(replace={tmpl: kv_string(tmpl, text)}), "any", "")
    return out


def gguf_cases(work, fx):
    gdir = work / "gguf"
    gdir.mkdir()
    cases = []
    # (fixture, command, every n-th mutation): spread over the mutations to keep the run short.
    plan = {"tiny-qwen3-f32.gguf": (("run", 1), ("tokenize", 3), ("doctor", 3), ("template", 5), ("logits", 5)),
            "tiny-llama-q4_1.gguf": (("run", 2), ("chat", 5)),
            "tiny-qwen3-256-q4_k_m.gguf": (("run", 3), ("perplexity", 7), ("bench", 40))}
    for fixture, commands in plan.items():
        g = Gguf((fx / fixture).read_bytes())
        for i, (name, blob) in enumerate(gguf_mutations(g).items()):
            path = gdir / f"{fixture[:-5]}.mut{i}.gguf"
            path.write_bytes(blob)
            for cmd, every in commands:
                if i % every:
                    continue
                cases.append(Case("gguf-mutated", f"{fixture} {name} ({cmd})", gguf_commands(path, work)[cmd], "any"))
    g = Gguf((fx / TINY).read_bytes())
    embd = next(t for t in g.tensors if t.name == "token_embd.weight")
    for i, (name, (blob, expect, pattern)) in enumerate(gguf_rebuilds(g).items()):
        if blob is None:  # rename token_embd in place
            blob = g.data[:embd.start + 8] + b"X" + g.data[embd.start + 9:]
        path = gdir / f"rebuilt{i}.gguf"
        path.write_bytes(blob)
        for cmd, argv in gguf_commands(path, work).items():
            if cmd == "tokenize" and name.startswith(("template", "no chat", "broken chat")):
                continue
            if name.startswith("template") and cmd not in ("run", "chat", "template"):
                continue
            e, p = expect, pattern
            if cmd in ("tokenize", "bench", "logits", "perplexity") and name in ("no chat template",
                                                                                  "broken chat template",
                                                                                  "template raises"):
                e, p = "ok", ""
            if cmd == "template" and name in ("no chat template", "broken chat template"):
                e, p = "any", ""
            if cmd == "doctor" and e == "ok":
                p = ""
            # tokenize and template read only the vocabulary and the template; logits needs no tokenizer.
            model_faults = ("block_count", "no token_embd", "head_count", "architecture", "rope dims", "context_length")
            if cmd in ("tokenize", "template") and name.startswith(model_faults):
                e, p = "any", ""
            if cmd == "logits" and name.startswith(("no tokenizer", "no tokens")):
                e, p = "any", ""
            if cmd == "chat" and name == "template raises":  # the console reports the turn's error and goes on
                e, p = "ok", "template raised: nope"
            if cmd == "bench" and i % 4:
                continue
            cases.append(Case("gguf-rebuilt", f"{name} ({cmd})", argv, e, p, stdin=b"hi\n" if cmd == "chat" else None))
    return cases


# --- doctor's machine files -----------------------------------------------------------------------------------------
def doctor_cases(work, fx):
    cases = []
    base = work / "sysroots"
    base.mkdir()
    files = ["proc/cpuinfo", "proc/meminfo", "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor",
             "sys/kernel/debug/rknpu/version", "proc/device-tree/compatible"]
    contents = {"empty": b"", "garbage": os.urandom(4096), "huge line": b"x" * (8 << 20),
                "NULs": b"\0" * 4096, "negative numbers": b"MemTotal: -5 kB\nprocessor : -1\n"}
    for i, rel in enumerate(files):
        for j, (what, blob) in enumerate(contents.items()):
            root = base / f"r{i}-{j}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(blob)
            cases.append(Case("doctor", f"{rel} {what}", ["doctor", "--sysroot", str(root)], "any"))
        for what in ("fifo", "directory"):
            root = base / f"r{i}-{what}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            os.mkfifo(root / rel) if what == "fifo" else (root / rel).mkdir()
            cases.append(Case("doctor", f"{rel} {what}", ["doctor", "--sysroot", str(root)], "any"))
    cases.append(Case("doctor", "doctor --json", ["doctor", "--json"], "any"))
    return cases


# --- tokenizer inputs ------------------------------------------------------------------------------------------------
def tokenize_cases(work, fx):
    model = str(fx / TINY)
    vocab = str(fx / "qwen3-vocab.gguf")
    tdir = work / "texts"
    tdir.mkdir()
    # A quarter of a megabyte each: a long prompt; tokenizing must stay linear-ish to finish in the time limit.
    n = 256 << 10
    texts = {"invalid UTF-8": os.urandom(20000), "NULs": b"\0" * 100000, "one long word": b"a" * n,
             "many spaces": b" " * n, "digits": b"1" * n, "special tokens": b"<|im_start|>" * 20000,
             "broken special": b"<|im_start" * 20000, "emoji": "\U0001F600".encode() * 50000,
             "combining marks": ("a" + "\u0301" * 10000).encode(), "newlines": b"\n" * n,
             "surrogates": b"\xed\xa0\x80" * 1000, "overlong": b"\xc0\xaf" * 10000}
    cases = []
    for i, (name, blob) in enumerate(texts.items()):
        path = tdir / f"t{i}.txt"
        path.write_bytes(blob)
        for m in (model, vocab):
            for flag in ([], ["--special"]):
                cases.append(Case("tokenize", f"{name} {pathlib.Path(m).name} {flag}",
                                  ["tokenize", "-m", m, "-f", str(path), *flag], "any"))
    return cases


def build(work: pathlib.Path, fx: pathlib.Path, root: pathlib.Path):
    (work / "text.txt").write_text("hello world, this is a text to score.\n" * 8)
    (work / "messages.json").write_text('[{"role":"user","content":"hi"}]')
    cases = []
    for make in (input_file_cases, output_file_cases, option_cases, chat_cases, template_cases, gguf_cases,
                 doctor_cases, tokenize_cases):
        cases += make(work, fx)
    names = [c.name for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    for c in cases:
        if c.name in dup:
            c.name = f"{c.category}: {c.name}"
    return cases
