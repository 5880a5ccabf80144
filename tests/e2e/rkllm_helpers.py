"""Helpers of the RKLLM end-to-end tests: fake .rkllm models, scripts and the call record of the runtime double."""
import json
import os
import pathlib
import subprocess

import pytest


def find_double_dir(build_dir):
    """The folder of runtime doubles (tests/rkllm_double in the build), also a --rkllm-lib-dir of runtimes."""
    env = os.environ.get("RKCHAT_RKLLM_DOUBLE_DIR")
    candidates = [pathlib.Path(env)] if env else []
    candidates += [p / "tests" / "rkllm_double" for p in (build_dir, *pathlib.Path(build_dir).parents)]
    for c in candidates:
        if (c / "1.2.1" / "librkllmrt.so").exists():
            return c
    pytest.fail("runtime double not found (build the rkllm_doubles target, or set RKCHAT_RKLLM_DOUBLE_DIR)")


class Npu:
    """A fake model plus the double's environment, in a temporary folder."""

    def __init__(self, rkchat_bin, double_dir, tmp_path):
        self.bin = rkchat_bin
        self.doubles = double_dir
        self.tmp = tmp_path
        self.log = tmp_path / "calls.jsonl"
        self.env = dict(os.environ, RKLLM_DOUBLE_LOG=str(self.log))
        for k in ("RKLLM_DOUBLE_SCRIPT", "RKCHAT_RKLLM_LIB", "RKCHAT_RKLLM_LIB_DIR"):
            self.env.pop(k, None)

    def model(self, toolkit, name="model.rkllm"):
        path = self.tmp / name
        path.write_bytes(b"\x5a" * 256 + (f"rkllm-toolkit version: {toolkit}".encode() if toolkit else b""))
        return str(path)

    def lib(self, version):
        return str(self.doubles / version / "librkllmrt.so")

    def script(self, **script):
        path = self.tmp / "script.json"
        path.write_text(json.dumps(script))
        self.env["RKLLM_DOUBLE_SCRIPT"] = str(path)

    def rkchat(self, *args, stdin=None, timeout=60):
        return subprocess.run([self.bin, *args], input=stdin, capture_output=True, text=True, env=self.env,
                              timeout=timeout)

    def calls(self, name=None):
        if not self.log.exists():
            return []
        lines = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [c for c in lines if name is None or c.get("call") == name]

    def failed_checks(self):
        return [c for c in self.calls() if "check_failed" in c]
