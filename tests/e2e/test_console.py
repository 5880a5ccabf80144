"""End-to-end tests of `rkchat run` and `rkchat chat` on the tiny fixture models (random weights: the text is
gibberish, but deterministic, and the token ids can be checked against llama.cpp's)."""
import json
import os
import re
import subprocess

import pexpect
import pytest

GREEDY_MODELS = ["tiny-qwen3-f32", "tiny-llama-f32", "tiny-qwen2-f32", "tiny-qwen3-q8_0"]


def run(rkchat_bin, *args, stdin=None, check=True):
    proc = subprocess.run([rkchat_bin, "run", *map(str, args)], input=stdin, capture_output=True, text=True,
                          timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def ids_line(stdout, name):
    match = re.search(rf"^{name} ids: ([\d,]*)$", stdout, re.M)
    assert match, stdout
    return [int(x) for x in match.group(1).split(",") if x]


def read_ids(path):
    return [int(x) for x in path.read_text().strip().split(",")]


@pytest.mark.parametrize("model", GREEDY_MODELS)
def test_prompt_ids_reproduce_the_greedy_fixture(rkchat_bin, fixtures_dir, model):
    tokens = read_ids(fixtures_dir / "tokens.txt")[:8]
    expected = read_ids(fixtures_dir / f"{model}.greedy.txt")
    out = run(rkchat_bin, "-m", fixtures_dir / f"{model}.gguf", "--kv-type", "f32", "--prompt-ids",
              ",".join(map(str, tokens)), "--temp", "0", "--ignore-eos", "-n", len(expected), "--ids").stdout
    assert ids_line(out, "prompt") == tokens
    assert ids_line(out, "answer") == expected


def e2e_cases(fixtures_dir):
    cases, case = [], {}
    for line in (fixtures_dir / "e2e-greedy.txt").read_text().splitlines():
        key, _, value = line.partition(":")
        case[key.strip()] = value.strip()
        if key.strip() == "greedy":
            cases.append(case)
            case = {}
    return cases


def test_raw_text_reproduces_the_e2e_fixture(rkchat_bin, fixtures_dir):
    for case in e2e_cases(fixtures_dir):
        expected = [int(x) for x in case["greedy"].split(",")]
        out = run(rkchat_bin, "-m", fixtures_dir / case["model"], "--kv-type", "f32", "--raw", "-p", case["text"],
                  "--temp", "0", "--ignore-eos", "-n", len(expected), "--ids").stdout
        assert ids_line(out, "prompt") == [int(x) for x in case["prompt"].split(",")], case["model"]
        assert ids_line(out, "answer") == expected, case["model"]


def test_missing_model_fails_clearly(rkchat_bin, tmp_path):
    proc = run(rkchat_bin, "-m", tmp_path / "nope.gguf", "-p", "hi", check=False)
    assert proc.returncode != 0
    assert "nope.gguf" in proc.stderr


def test_same_seed_same_output_and_json(rkchat_bin, fixtures_dir):
    def answer(seed):
        out = run(rkchat_bin, "-m", fixtures_dir / "tiny-qwen3-f32.gguf", "-p", "Hello", "--temp", "1.0", "--seed",
                  seed, "-n", "24", "--ignore-eos", "--json").stdout
        return json.loads(out)

    first, second = answer(7), answer(7)
    assert first == {**second, "timings": first["timings"]}
    assert first["gen_tokens"] == 24
    assert first["prompt_tokens"] > 2
    assert set(first["timings"]) >= {"ttft_ms", "prefill_tok_s", "decode_tok_s", "total_ms"}
    other = answer(99)
    assert other["text"] + other["reasoning"] != first["text"] + first["reasoning"]


def test_prompt_from_stdin_and_stop_string(rkchat_bin, fixtures_dir):
    args = ["-m", fixtures_dir / "tiny-llama-f32.gguf", "--raw", "--temp", "0", "-n", "24", "--ignore-eos"]
    full = run(rkchat_bin, *args, stdin="Once upon a time").stdout.rstrip("\n")
    assert len(full) > 8
    stop = full[len(full) // 2:len(full) // 2 + 3]
    cut = run(rkchat_bin, *args, "--stop", stop, stdin="Once upon a time").stdout.rstrip("\n")
    assert cut == full[:full.index(stop)]


def test_figures_go_to_stderr(rkchat_bin, fixtures_dir):
    proc = run(rkchat_bin, "-m", fixtures_dir / "tiny-qwen3-f32.gguf", "-p", "Hi", "-n", "8", "--ignore-eos")
    assert re.search(r"\[Tokens: 8 \| TTFT: [\d.]+ s \| Speed: [\d.]+ tok/s \| Time: [\d.]+ s\]", proc.stderr)
    assert "Tokens:" not in proc.stdout


@pytest.fixture
def models_dir(tmp_path, fixtures_dir):
    for name in ["tiny-llama-f32.gguf", "tiny-qwen3-f32.gguf", "qwen3-vocab.gguf"]:
        os.symlink(fixtures_dir / name, tmp_path / name)
    return tmp_path


def spawn_chat(rkchat_bin, *args):
    child = pexpect.spawn(rkchat_bin, ["chat", *map(str, args)], encoding="utf-8", timeout=60,
                          env={**os.environ, "NO_COLOR": "1"}, dimensions=(40, 200))
    return child


def test_chat_in_a_terminal(rkchat_bin, models_dir):
    child = spawn_chat(rkchat_bin, "--models", models_dir, "--temp", "0", "-n", "12", "--ignore-eos", "-t", "1")
    child.expect(r"1\) tiny-llama-f32\.gguf")
    child.expect(r"2\) tiny-qwen3-f32\.gguf")
    child.expect(r"Pick a model \[1-2\]: ")  # the vocab-only GGUF is not offered
    child.sendline("2")
    child.expect("loaded ")
    child.expect(">>> ")

    child.sendline("Hello there")
    child.expect(r"\[Tokens: 12 \| TTFT")
    child.expect(r"prompt: (\d+) new / 0 cached")
    first_new = int(child.match.group(1))
    child.expect(">>> ")
    child.sendline("Tell me more")
    child.expect(r"prompt: (\d+) new / (\d+) cached")
    assert int(child.match.group(2)) >= first_new  # the first turn's prompt came from the cache

    child.sendline("/reset")
    child.expect(r"\(new conversation\)")
    child.expect(">>> ")
    child.sendline("Hello there")
    # A new conversation: the same first prompt again (the engine's prompt cache may serve it from the old slot).
    child.expect(r"prompt: (\d+) new / (\d+) cached")
    assert int(child.match.group(1)) + int(child.match.group(2)) == first_new
    child.expect(">>> ")

    child.sendline("/set temp 0.5")
    child.expect("temp = 0.5")
    child.expect(">>> ")
    child.sendline("/stats")
    child.expect(r"turns: 3")
    child.expect(">>> ")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_chat_ctrl_c_stops_the_answer_then_leaves(rkchat_bin, fixtures_dir):
    # A long answer (until the context is full) on one thread, so that Ctrl-C lands in the middle of it.
    child = spawn_chat(rkchat_bin, "-m", fixtures_dir / "tiny-qwen3-256-f32.gguf", "-c", "4096", "-n", "-1",
                       "--ignore-eos", "-t", "1")
    child.expect(">>> ")
    child.sendline("Write a long story")
    child.expect(r"Write a long story\r\n")
    child.expect(r"\S{8}")  # some of the answer has arrived
    child.sendintr()
    child.expect(r"\[stopped\]")
    child.expect(r"\[Tokens: \d+")
    child.expect(">>> ")
    child.sendintr()
    child.expect("Ctrl-C again")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_chat_with_piped_input(rkchat_bin, fixtures_dir):
    proc = subprocess.run([rkchat_bin, "chat", "-m", fixtures_dir / "tiny-qwen3-f32.gguf", "--temp", "0", "-n", "6",
                           "--ignore-eos"], input="Hello\n/think off\nAgain\nquit\n", capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert ">>>" not in proc.stdout and "\033[" not in proc.stdout
    assert "(thinking off)" in proc.stdout
    assert len(re.findall(r"\[Tokens: 6 ", proc.stderr)) == 2
