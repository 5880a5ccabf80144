"""`rkchat chat --server URL`: the console chat against a running `rkchat serve`, driven through stdin."""
import re
import subprocess

import pytest

from server_helpers import Server

KEY = "test-key-not-a-secret"
FIGURES = re.compile(r"\[Tokens: (\d+) \| TTFT: [\d.]+ s \| Speed: [\d.]+ tok/s \| Time: [\d.]+ s\]"
                     r"  prompt: (\d+) new / (\d+) cached")


@pytest.fixture(scope="module")
def server(rkchat_bin, fixtures_dir, tmp_path_factory):
    s = Server(rkchat_bin, ["-m", str(fixtures_dir / "tiny-qwen3-q8_0.gguf"), "-c", "256", "--parallel", "1",
                            "--api-key", KEY], tmp_path_factory.mktemp("serve"))
    s.wait_ready()
    yield s
    assert s.stop() == 0, s.stderr()


def chat(rkchat_bin, *args, stdin, env=None):
    return subprocess.run([rkchat_bin, "chat", *map(str, args)], input=stdin, capture_output=True, text=True,
                          timeout=60, env=env)


def test_two_turns_reuse_the_servers_cache_and_reset_starts_over(rkchat_bin, server):
    proc = chat(rkchat_bin, "--server", server.url, "--api-key", KEY, "--temp", "0", "-n", "6", "--no-think",
                stdin="Hello there\nAnd again\n/stats\n/reset\nHello there\n/quit\n")
    assert proc.returncode == 0, proc.stderr
    assert "connected to " + server.url + ", model tiny-qwen3-q8_0" in proc.stderr
    figures = [tuple(map(int, m)) for m in FIGURES.findall(proc.stderr)]
    assert len(figures) == 3, proc.stderr
    (gen1, new1, cached1), (gen2, new2, cached2), (gen3, new3, cached3) = figures
    assert 1 <= gen1 <= 6 and 1 <= gen2 <= 6
    assert cached1 == 0 and new1 > 0
    # The second turn sends the whole conversation; the server reuses its cached prefix (with thinking off, Qwen3's
    # template renders the first turn's empty <think></think> only in the generation prompt, so not all of it).
    assert cached2 > 0 and new2 > 0 and new2 + cached2 > new1 + gen1
    assert "turns: 2" in proc.stdout and "messages in the conversation: 4" in proc.stdout
    assert "(new conversation)" in proc.stdout
    # After /reset the same first message is sent alone: its prompt is the first turn's, again cached in full
    # but for the last token (the server's cache holds the longer conversation).
    assert new3 + cached3 == new1 + cached1 and cached3 > 0
    assert ">>>" not in proc.stdout and "\033[" not in proc.stdout


def test_the_same_answer_as_over_http_each_turn(rkchat_bin, server):
    # Greedy and the same prompt: two runs print the same answers (the client adds nothing to the conversation).
    runs = [chat(rkchat_bin, "--server", server.url, "--api-key", KEY, "--temp", "0", "-n", "5", "--no-think",
                 stdin="Hi\n/system Be brief.\nHi\n") for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    assert "(system prompt set; new conversation)" in runs[0].stdout
    assert len(FIGURES.findall(runs[0].stderr)) == 2


def test_api_key_from_the_environment_and_the_model_by_name(rkchat_bin, server):
    env = {"RKCHAT_API_KEY": KEY, "PATH": "/usr/bin:/bin"}
    proc = chat(rkchat_bin, "--server", server.url + "/v1/", "-m", "tiny-qwen3-q8_0", "-n", "3", stdin="Hi\n",
                env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(FIGURES.findall(proc.stderr)) == 1
    proc = chat(rkchat_bin, "--server", server.url, "-m", "no-such-model", stdin="Hi\n", env=env)
    assert proc.returncode == 1
    assert "has no model 'no-such-model' (it has: tiny-qwen3-q8_0)" in proc.stderr


def test_a_wrong_api_key_is_refused_clearly(rkchat_bin, server):
    for args in (["--api-key", "wrong"], []):
        proc = chat(rkchat_bin, "--server", server.url, *args, stdin="Hello\n", env={"PATH": "/usr/bin:/bin"})
        assert proc.returncode == 1
        assert "the server answered 401" in proc.stderr and "--api-key" in proc.stderr
        assert "[Tokens:" not in proc.stderr


def test_an_error_answer_leaves_the_console_usable(rkchat_bin, server):
    # 256 tokens of context: this message alone does not fit; the server answers 400 and the next turn works.
    proc = chat(rkchat_bin, "--server", server.url, "--api-key", KEY, "-n", "3", "--no-think",
                stdin="word " * 400 + "\nHello\n")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"error: the server answered 400: .*", proc.stderr), proc.stderr
    figures = FIGURES.findall(proc.stderr)
    assert len(figures) == 1
    assert int(figures[0][1]) + int(figures[0][2]) < 30  # the refused turn is not part of the conversation


def test_a_conversation_that_outgrows_the_context_drops_its_oldest_turns(rkchat_bin, server):
    # 256 tokens of context, about 100 per turn: the third turn does not fit with the first two.
    line = "one two three four five six seven eight nine ten " * 4
    proc = chat(rkchat_bin, "--server", server.url, "--api-key", KEY, "-n", "4", "--no-think",
                stdin=f"{line}\n{line}\n{line}\n/stats\n")
    assert proc.returncode == 0, proc.stderr
    assert len(FIGURES.findall(proc.stderr)) == 3, proc.stderr
    assert "(context full: dropped the 1 oldest turn(s) to make room)" in proc.stderr
    assert "error:" not in proc.stderr
    assert "messages in the conversation: 4" in proc.stdout and "dropped to fit the context: 1" in proc.stdout


def test_an_unreachable_server_is_named(rkchat_bin, tmp_path):
    import socket
    with socket.socket() as s:  # a free loopback port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = chat(rkchat_bin, "--server", f"http://127.0.0.1:{port}", stdin="Hello\n")
    assert proc.returncode == 1
    assert f"cannot reach http://127.0.0.1:{port}" in proc.stderr and "rkchat serve" in proc.stderr
    proc = chat(rkchat_bin, "--server", "ftp://", stdin="Hello\n")
    assert proc.returncode == 1 and "error" in proc.stderr
