"""Issue 13, the command line's part: files that are not regular files, outputs that cannot be written, nonsense
option values, and the ChatML fallback said out loud. Each test failed before the fix (a hang, a replaced device,
a false "wrote", a silently accepted value)."""
import os
import pathlib
import stat
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "hostile"))
from gguf_mutate import Gguf  # noqa: E402

TINY = "tiny-qwen3-f32.gguf"


def rk(rkchat_bin, *args, stdin=None, timeout=20):
    return subprocess.run([rkchat_bin, *map(str, args)], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def model(fixtures_dir):
    return fixtures_dir / TINY


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "model.gguf"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("cmd", [["run", "-p", "hi"], ["bench"], ["doctor"], ["tokenize", "-p", "hi"]])
def test_a_fifo_as_model_is_refused_not_opened(rkchat_bin, fifo, cmd):
    r = rk(rkchat_bin, cmd[0], "-m", fifo, *cmd[1:], timeout=10)  # before: blocked forever in open()
    assert r.returncode == 2
    assert f"{fifo}: the model file is a FIFO, not a regular file" in r.stderr


def test_dev_null_as_model_names_what_it_is(rkchat_bin):
    r = rk(rkchat_bin, "run", "-m", "/dev/null", "-p", "hi")
    assert r.returncode == 2
    assert "/dev/null: the model file is a character device" in r.stderr
    assert "Inappropriate ioctl" not in r.stderr


@pytest.mark.parametrize("args", [["template", "--template", "{dir}", "--messages", "{msgs}"],
                                  ["template", "-m", "{model}", "--messages", "{dir}"],
                                  ["tokenize", "-m", "{model}", "-f", "{dir}"],
                                  ["perplexity", "-m", "{model}", "-f", "{dir}"]])
def test_a_directory_as_input_names_the_path(rkchat_bin, tmp_path, model, args):
    msgs = tmp_path / "m.json"
    msgs.write_text('[{"role":"user","content":"hi"}]')
    d = tmp_path / "a-folder"
    d.mkdir()
    r = rk(rkchat_bin, *[a.format(dir=d, msgs=msgs, model=model) for a in args])
    assert r.returncode == 2  # before: exit 0 with empty output, or an unnamed error
    assert f"{d}: the input file is a directory" in r.stderr


def test_perplexity_reads_no_device_and_no_huge_file(rkchat_bin, tmp_path, model):
    r = rk(rkchat_bin, "perplexity", "-m", model, "-f", "/dev/zero", timeout=10)  # before: 3.9 GB, then killed
    assert r.returncode == 2 and "/dev/zero: the input file is a character device" in r.stderr
    sparse = tmp_path / "sparse.txt"
    with open(sparse, "wb") as f:
        f.truncate(8 << 30)
    r = rk(rkchat_bin, "perplexity", "-m", model, "-f", sparse, timeout=10)
    assert r.returncode == 2 and "8589.9 MB, more than the 16.8 MB this command reads" in r.stderr


@pytest.mark.parametrize("ctx", [1, 2])
def test_perplexity_refuses_a_window_that_scores_nothing(rkchat_bin, test_data, model, ctx):
    r = rk(rkchat_bin, "perplexity", "-m", model, "-f", test_data / "english.txt", "-c", ctx)
    assert r.returncode == 1, r.stdout  # before: "PPL = -nan (0 tokens scored)" and exit 0
    assert f"-c {ctx} is too small to score anything" in r.stderr
    assert "nan" not in r.stdout


def test_synth_never_replaces_what_is_not_a_regular_file(rkchat_bin, tmp_path):
    link = tmp_path / "out.gguf"
    link.symlink_to("/dev/null")  # before: the temp file was renamed over the target (that is how /dev/full went)
    r = rk(rkchat_bin, "synth", "--size", "tiny", "-o", link)
    assert r.returncode == 1
    assert "the output file is a character device; give a regular file or a new name" in r.stderr
    assert link.is_symlink()
    out_fifo = tmp_path / "out.fifo"
    os.mkfifo(out_fifo)
    r = rk(rkchat_bin, "synth", "--size", "tiny", "-o", out_fifo)
    assert r.returncode == 1 and "the output file is a FIFO" in r.stderr
    assert stat.S_ISFIFO(os.stat(out_fifo).st_mode)
    r = rk(rkchat_bin, "synth", "--size", "tiny", "-o", tmp_path / "no-such-dir" / "x.gguf")
    assert r.returncode == 1 and "no-such-dir: No such file or directory" in r.stderr


def test_a_failed_write_is_an_error_not_wrote(rkchat_bin, model):
    r = rk(rkchat_bin, "logits", "-m", model, "--tokens", "1,2,3", "-o", "/dev/full")
    assert r.returncode == 1 and "/dev/full: writing the logits file failed: No space left on device" in r.stderr
    r = rk(rkchat_bin, "bench", "-m", model, "--prompt-tokens", "4", "--gen-tokens", "2", "-r", "1", "--json",
           "/dev/full", timeout=60)
    assert r.returncode == 1, r.stderr  # before: "wrote /dev/full" and exit 0
    assert "wrote /dev/full" not in r.stderr and "No space left on device" in r.stderr


def test_outputs_are_checked_before_the_work(rkchat_bin, tmp_path, model):
    r = rk(rkchat_bin, "bench", "-m", model, "--json", tmp_path / "nope" / "r.json")
    assert r.returncode == 2 and "nope: No such file or directory" in r.stderr
    assert "loading" not in r.stderr  # refused before measuring anything


BAD_VALUES = [
    (["-c", "-1"], "--ctx-size: must be >= 0"), (["-t", "-1"], "--threads: must be >= 0"),
    (["--temp", "-1"], "--temp: must be in [0, 100]"), (["--top-p", "2"], "--top-p: must be in (0, 1]"),
    (["--top-p", "0"], "--top-p: must be in (0, 1]"), (["--top-k", "-5"], "--top-k: must be >= 0"),
    (["--min-p", "-1"], "--min-p: must be in [0, 1)"), (["-n", "-5"], "--max-tokens: must be >= -1"),
    (["--repeat-penalty", "0"], "--repeat-penalty: must be in (0, 100]"),
    (["--presence-penalty", "5"], "--presence-penalty: must be in [-2, 2]"),
    (["--temp", "nan"], "--temp: must be in [0, 100]"),
]


@pytest.mark.parametrize("args,message", BAD_VALUES)
def test_nonsense_values_are_refused_with_the_range(rkchat_bin, model, args, message):
    r = rk(rkchat_bin, "run", "-m", model, "-p", "hi", *args)
    assert r.returncode == 2, r.stdout  # before: accepted silently (-n -5 generated 4084 tokens)
    assert message in r.stderr


@pytest.mark.parametrize("args,message", [
    (["bench", "--thread-counts", "0"], "--thread-counts: must be >= 1, got 0"),
    (["synth", "--size", "tiny", "-t", "-5", "-o", "x.gguf"], "--threads: must be >= 0"),
    (["run", "-p", "hi", "--prompt-ids", "1,2"], "--prompt-ids"),
    (["run", "-p", "hi", "--tokenizer", "/nonexistent"], "/nonexistent: the model file does not exist"),
])
def test_other_options(rkchat_bin, model, tmp_path, args, message):
    if args[0] != "synth":
        args = [args[0], "-m", model, *args[1:]]
    r = subprocess.run([rkchat_bin, *map(str, args)], capture_output=True, text=True, timeout=20, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr


def without_template(fixtures_dir, tmp_path):
    g = Gguf((fixtures_dir / TINY).read_bytes())
    path = tmp_path / "no-template.gguf"
    path.write_bytes(g.rebuild(drop={"tokenizer.chat_template"}))
    return path


def test_run_and_chat_say_they_fall_back_to_chatml(rkchat_bin, fixtures_dir, tmp_path):
    path = without_template(fixtures_dir, tmp_path)
    for args, stdin in ((["run", "-m", path, "-p", "hi"], None), (["chat", "-m", path], "hi\n")):
        r = rk(rkchat_bin, *args, "-n", "2", "--temp", "0", stdin=stdin)
        assert r.returncode == 0, r.stderr
        assert "note: the model has no chat template; using ChatML" in r.stderr, args[0]


def test_console_set_refuses_nonsense(rkchat_bin, model):
    r = rk(rkchat_bin, "chat", "-m", model, stdin="/set max-tokens -5\n/set temp 1 2 3\n/set\n")
    assert r.returncode == 0, r.stderr
    assert "cannot set max-tokens: must be >= -1" in r.stdout
    assert "usage: /set NAME VALUE" in r.stdout
    assert "max-tokens = -1" in r.stdout and "temp = 0.8" in r.stdout  # unchanged


def test_a_flood_on_stdin_is_bounded(rkchat_bin, model):
    with open("/dev/zero", "rb") as zero:
        r = subprocess.run([rkchat_bin, "chat", "-m", str(model)], stdin=zero, capture_output=True, timeout=30)
        assert r.returncode == 1 and b"an input line is longer than 16 MB" in r.stderr
        r = subprocess.run([rkchat_bin, "run", "-m", str(model)], stdin=zero, capture_output=True, timeout=30)
        assert r.returncode == 1 and b"the prompt on stdin is longer than 16 MB" in r.stderr
