"""`rkchat run` and `rkchat chat` against the RKLLM runtime double: the NPU backend's contract, end to end."""
import pytest

from rkllm_helpers import Npu, find_double_dir


@pytest.fixture
def npu(rkchat_bin, build_dir, tmp_path):
    return Npu(rkchat_bin, find_double_dir(build_dir), tmp_path)


@pytest.mark.parametrize("version", ["1.2.1", "1.3.0"])
def test_run_streams_the_answer(npu, version):
    r = npu.rkchat("run", "-m", npu.model(version), "--rkllm-lib", npu.lib(version), "-p", "hello there")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Hello! You said: hello there"
    (init,) = npu.calls("init")
    assert init["family"] == (13 if version == "1.3.0" else 12)
    assert npu.calls("run")[0]["prompt"] == "hello there"
    assert not npu.failed_checks()


@pytest.mark.parametrize("toolkit,family,runtime", [("1.2.3", 12, "1.2.3"), ("1.3.0", 13, "1.3.0"),
                                                     ("1.2.1b1", 12, "1.2.1")])
def test_runtime_picked_from_folder_by_trailer(npu, toolkit, family, runtime):
    r = npu.rkchat("run", "-m", npu.model(toolkit), "--rkllm-lib-dir", str(npu.doubles), "-p", "x")
    assert r.returncode == 0, r.stderr
    assert npu.calls("init")[0]["family"] == family
    assert f"rkllm-runtime version: {runtime}" in r.stderr


def test_runtime_folder_from_environment_and_near_match(npu):
    npu.env["RKCHAT_RKLLM_LIB_DIR"] = str(npu.doubles)
    r = npu.rkchat("run", "-m", npu.model("1.2.2"), "-p", "x")
    assert r.returncode == 0, r.stderr
    assert "no runtime 1.2.2" in r.stderr and "1.2.3" in r.stderr  # same major.minor, with a warning


def test_no_matching_runtime_lists_what_is_there(npu):
    r = npu.rkchat("run", "-m", npu.model("1.4.0"), "--rkllm-lib-dir", str(npu.doubles), "-p", "x")
    assert r.returncode != 0
    assert "1.4.0" in r.stderr and "1.2.1" in r.stderr and "1.3.0" in r.stderr
    assert not npu.calls("init")


def test_version_mismatch_from_trailer(npu):
    model = npu.model("1.3.0")
    r = npu.rkchat("run", "-m", model, "--rkllm-lib", npu.lib("1.2.1"), "-p", "x")
    assert r.returncode != 0
    assert "1.3.0" in r.stderr and "1.2.1" in r.stderr and "--force" in r.stderr
    assert not npu.calls("init")  # caught before init
    forced = npu.rkchat("run", "-m", model, "--rkllm-lib", npu.lib("1.2.1"), "--force", "-p", "x")
    assert forced.returncode == 0, forced.stderr
    assert "warning" in forced.stderr


@pytest.mark.parametrize("lib,abi", [("1.2.1", "1.3"), ("1.3.0", "1.2")])
def test_wrong_abi_fails_loudly(npu, lib, abi):
    model = npu.model(lib)
    r = npu.rkchat("run", "-m", model, "--rkllm-lib", npu.lib(lib), "--rkllm-abi", abi, "-p", "x")
    assert r.returncode == 1 and "contradicts" in r.stderr
    forced = npu.rkchat("run", "-m", model, "--rkllm-lib", npu.lib(lib), "--rkllm-abi", abi, "--force", "-p", "x")
    assert forced.returncode == 1, forced.stderr  # an error, not a crash (a signal gives a negative code)
    assert "rkllm_init failed" in forced.stderr
    assert npu.failed_checks()


def test_missing_symbol_is_named(npu):
    r = npu.rkchat("run", "-m", npu.model("1.2.1"), "--rkllm-lib", npu.lib("no_abort"), "--rkllm-abi", "1.2",
                   "-p", "x")
    assert r.returncode == 1
    assert "rkllm_abort" in r.stderr


def test_missing_runtime_says_what_to_install(npu):
    r = npu.rkchat("run", "-m", npu.model("1.2.1"), "--rkllm-lib", str(npu.tmp / "none.so"), "-p", "x")
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_error_state(npu):
    npu.script(turns=[{"pieces": [{"text": "par", "token": 1}, {"state": "error"}]}])
    r = npu.rkchat("run", "-m", npu.model("1.2.1"), "--rkllm-lib", npu.lib("1.2.1"), "-p", "x")
    assert r.returncode != 0
    assert "error" in r.stderr


def test_empty_answer_is_reported(npu):
    npu.script(turns=[{"pieces": []}])
    r = npu.rkchat("run", "-m", npu.model("1.2.2"), "--rkllm-lib", npu.lib("1.2.1"), "-p", "x")
    assert r.returncode != 0
    assert "empty answer" in r.stderr and "1.2.2" in r.stderr and "1.2.1" in r.stderr


def test_end_of_answer_guard(npu):
    npu.script(delay_ms=5, turns=[{"pieces": [{"text": "Done.", "token": 9}, {"text": "<|im_end|>", "token": 151645}],
                       "runaway": {"text": " user: and more", "token": 77, "max": 500}}])
    r = npu.rkchat("run", "-m", npu.model("1.2.3"), "--rkllm-lib", npu.lib("1.3.0"), "--force", "-p", "x")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Done."
    assert r.stderr.count("past the end of the answer") == 1
    (answer,) = npu.calls("answer")
    assert answer["aborted"] and answer["emitted"] < 20


def test_split_utf8(npu):
    npu.script(turns=[{"pieces": [{"hex": "e4bd", "token": 1, "state": "waiting"}, {"hex": "a0e5", "token": 2},
                                  {"hex": "a5bd", "token": 3}]}])
    r = npu.rkchat("run", "-m", npu.model("1.2.1"), "--rkllm-lib", npu.lib("1.2.1"), "-p", "x")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "你好"


def test_options_reach_the_runtime(npu):
    r = npu.rkchat("run", "-m", npu.model("1.3.0"), "--rkllm-lib", npu.lib("1.3.0"), "-c", "2048",
                   "--npu-domain", "1", "--cpus", "4-7", "--top-p", "0.5", "-n", "3", "-p", "a b c d e f")
    assert r.returncode == 0, r.stderr
    (init,) = npu.calls("init")
    assert init["max_context_len"] == 2048 and init["base_domain_id"] == 1
    assert init["enabled_cpus_mask"] == 0xF0 and init["enabled_cpus_num"] == 4
    run = npu.calls("run")[0]
    assert run["max_new_tokens"] == 3
    assert run["sampling"]["top_p"] == pytest.approx(0.5)
    assert len(r.stdout.split()) == 3


def test_context_over_the_model_limit(npu):
    r = npu.rkchat("run", "-m", npu.model("1.2.1"), "--rkllm-lib", npu.lib("1.2.1"), "-c", "8192", "-p", "x")
    assert r.returncode == 1
    assert "exceeds the model's limit 4096" in r.stderr


def test_chat_keeps_history(npu):
    r = npu.rkchat("chat", "-m", npu.model("1.2.1"), "--rkllm-lib", npu.lib("1.2.1"), stdin="first\nsecond\n")
    assert r.returncode == 0, r.stderr
    assert "Hello! You said: first" in r.stdout and "Hello! You said: second" in r.stdout
    runs = npu.calls("run")
    assert [c["prompt"] for c in runs] == ["first", "second"]
    assert runs[0]["kv_tokens_before"] == 0 and runs[1]["kv_tokens_before"] > 0
    assert all(c["keep_history"] == 1 for c in runs)


def test_chat_abort_mid_answer(npu):
    pexpect = pytest.importorskip("pexpect")
    npu.script(delay_ms=30, callback_thread="worker",
               turns=[{"pieces": [{"text": "la", "token": 5}], "runaway": {"text": " la", "token": 5, "max": 2000}}])
    child = pexpect.spawn(npu.bin, ["chat", "-m", npu.model("1.3.0"), "--rkllm-lib", npu.lib("1.3.0")],
                          env=npu.env, encoding="utf-8", timeout=20)
    child.sendline("sing")
    child.expect("la la")
    child.sendintr()
    child.sendline("/bye")  # back at the prompt after the abort (or end of input)
    child.sendeof()
    child.expect(pexpect.EOF)
    (answer,) = npu.calls("answer")
    assert answer["aborted"] and answer["emitted"] < 2000
    assert npu.calls("abort")
