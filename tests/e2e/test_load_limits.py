"""Hostile model metadata against the built binary: a block count of 16M in a tiny model must be refused before
anything is sized by it (it took 5.5 GB before a tensor was found missing), by run, bench and doctor alike."""
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
