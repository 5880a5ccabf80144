"""Hostile model metadata against the built binary: a block count of 16M in a tiny model must be refused before
anything is sized by it (it took 5.5 GB before a tensor was found missing), by run, bench and doctor alike."""
import json
import os
import struct
import subprocess
import tempfile
import threading
import time

import pytest

PEAK_LIMIT_KB = 200 * 1024  # a tiny model loads in a few MB


def with_u32(src, key, value):
    """The bytes of a GGUF file with the u32 metadata value of `key` replaced (the key is written once)."""
    data = bytearray(src.read_bytes())
    name = key.encode()
    at = data.find(struct.pack("<Q", len(name)) + name)
    assert at >= 0 and data.find(name, at + 8 + len(name)) < 0, key
    at += 8 + len(name)
    assert struct.unpack_from("<I", data, at)[0] == 4, "not a u32 value"
    struct.pack_into("<I", data, at + 4, value)
    return bytes(data)


def run_measured(cmd, timeout=60):
    """Exit code, stderr, seconds and peak RSS (kB) of a command."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return proc.returncode, err.read().decode(), time.monotonic() - t0, usage.ru_maxrss


@pytest.fixture
def huge_block_count(fixtures_dir, tmp_path):
    path = tmp_path / "blocks-16M.gguf"
    path.write_bytes(with_u32(fixtures_dir / "tiny-llama-f32.gguf", "llama.block_count", 16777216))
    return path


@pytest.mark.parametrize("args", [["run", "-p", "hi", "-n", "4"], ["bench", "-r", "1"]])
def test_huge_block_count_is_refused_in_little_memory(rkchat_bin, huge_block_count, args):
    rc, stderr, seconds, peak_kb = run_measured([rkchat_bin, args[0], "-m", str(huge_block_count), *args[1:]])
    assert rc in (1, 2), stderr
    assert "block_count 16777216 needs at least 150994944 tensors, but the file holds 21" in stderr
    assert seconds < 10
    assert peak_kb < PEAK_LIMIT_KB, f"peak RSS {peak_kb} kB"


def test_doctor_fails_a_file_that_run_rejects(rkchat_bin, huge_block_count):
    r = subprocess.run([rkchat_bin, "doctor", "-m", str(huge_block_count)], capture_output=True, text=True,
                       timeout=60)
    assert "block_count 16777216 needs at least" in r.stdout
    assert "verdict: fail" in r.stdout


def test_threads_beyond_the_cores_are_capped(rkchat_bin, fixtures_dir, tmp_path):
    """-t 1000 took up to a minute for 4 tokens (workers spin, so they took turns on the cores): the count is capped
    at the cores with a warning, and bench records the threads it really ran."""
    cores = len(os.sched_getaffinity(0))
    model = fixtures_dir / "tiny-qwen3-f32.gguf"
    rc, stderr, seconds, _ = run_measured([rkchat_bin, "run", "-m", str(model), "-p", "hi", "-n", "4",
                                           "-t", str(cores + 1)])
    assert rc == 0, stderr
    assert f"{cores + 1} threads asked, but this process may run on {cores} cores; using {cores}" in stderr
    assert seconds < 10
    js = tmp_path / "bench.json"
    r = subprocess.run([rkchat_bin, "bench", "-m", str(model), "--prompt-tokens", "8", "--gen-tokens", "4", "-r", "1",
                        "--thread-counts", str(cores + 1), "--json", str(js)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(js.read_text())["results"][0]["threads"] == cores
