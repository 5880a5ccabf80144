"""`rkchat chat` in a real terminal (tmux): the prompt that libedit draws must not show the bytes of its colour
codes. Before the fix the bold prompt reached the screen as "[1m>>> [0m" (libedit counted the escape bytes as
columns and cut them when redrawing)."""
import os
import shlex
import shutil
import subprocess
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self, command):
        self.socket = f"rkchat-test-{os.getpid()}"
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        env["TERM"] = "xterm-256color"
        subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "30",
                        "-s", "chat", command], check=True, env=env, timeout=10)

    def screen(self):
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", "-t", "chat"], capture_output=True,
                              text=True, timeout=10).stdout

    def keys(self, *keys):
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", "chat", *keys], check=True, timeout=10)

    def wait_for(self, predicate, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.1)
        pytest.fail(f"timed out; the screen:\n{self.screen()}")

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


def test_the_prompt_shows_no_escape_bytes(rkchat_bin, fixtures_dir):
    model = fixtures_dir / "tiny-qwen3-f32.gguf"
    # After the chat ends, the shell waits so that the last screen can still be read.
    command = f"{shlex.quote(rkchat_bin)} chat -m {shlex.quote(str(model))} -n 3 --temp 0; sleep 30"
    tmux = Tmux(command)
    try:
        tmux.wait_for(lambda s: ">>>" in s)
        tmux.keys("hello there", "Enter")
        tmux.wait_for(lambda s: s.count(">>>") >= 2)
        tmux.keys("/set temp 0.5", "Enter")
        screen = tmux.wait_for(lambda s: "temp = 0.5" in s and s.count(">>>") >= 3)
        assert "[1m" not in screen and "[0m" not in screen, screen
        assert "\x01" not in screen and "\x02" not in screen, screen
        prompts = [line for line in screen.splitlines() if ">>>" in line]
        assert prompts[0].startswith(">>> hello there"), screen
        assert prompts[1].startswith(">>> /set temp 0.5"), screen
    finally:
        tmux.close()
