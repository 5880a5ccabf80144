"""Starting a real `rkchat serve` on a free loopback port for the server tests, and small HTTP helpers."""
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request


class Server:
    def __init__(self, rkchat_bin, args, tmp_path, env=None):
        self.log_path = tmp_path / f"serve-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        full_env = dict(os.environ, **(env or {}))
        self.proc = subprocess.Popen([rkchat_bin, "serve", "--host", "127.0.0.1", "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=full_env)
        self.port = self._wait_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _wait_port(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"listening on http://[^:]+:(\d+)", self.log_path.read_text())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError(f"rkchat serve exited: {self.log_path.read_text()}")
            time.sleep(0.05)
        raise RuntimeError("rkchat serve did not start")

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, _, _ = request(self.url + "/health")
            if status == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("the model did not load")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def stderr(self):
        return self.log_path.read_text()


def request(url, body=None, method=None, headers=None, raw=None, timeout=120):
    """(status, headers, body bytes); body is sent as JSON, raw as given."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def post_json(url, body, **kw):
    status, headers, data = request(url, body, **kw)
    return status, json.loads(data) if data else None


def sse_events(data):
    """The data: payloads of an SSE body, in order."""
    return [line[len("data: "):] for line in data.decode().split("\n") if line.startswith("data: ")]


def ndjson(data):
    return [json.loads(line) for line in data.decode().split("\n") if line.strip()]


def open_stream(port, body, path="/v1/chat/completions"):
    """A raw socket with a streamed request sent and its first data: event received (headers may come apart)."""
    import socket
    data = json.dumps(body).encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
              + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    got = b""
    while b"data:" not in got:
        more = s.recv(4096)
        if not more:
            raise RuntimeError(f"the stream ended early: {got!r}")
        got += more
    return s
