"""`rkchat pull`, `list` and `rm` against a local HTTP file server that misbehaves on purpose: it cuts connections
midway, ignores Range requests, serves wrong bytes or a web page. Model hubs cannot be reached here, so this tests
the client's behaviour; the server is on loopback and stops with the test."""
import hashlib
import http.server
import os
import pathlib
import subprocess
import threading

import pytest

MODEL = "tiny-qwen3-q8_0.gguf"


class Behaviour:
    def __init__(self, body):
        self.body = body
        self.cut_after = None  # bytes sent per connection before the socket is closed
        self.honour_range = True
        self.status = 200
        self.requests = []


def make_handler(files):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            b = files.get(self.path)
            if b is None:
                self.send_error(404)
                return
            b.requests.append((self.path, self.headers.get("Range")))
            if b.status != 200:
                self.send_error(b.status)
                return
            start = 0
            rng = self.headers.get("Range")
            if rng and b.honour_range:
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(b.body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(b.body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(b.body) - 1}/{len(b.body)}")
            else:
                self.send_response(200)
            data = b.body[start:]
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if b.cut_after is not None and len(data) > b.cut_after:
                self.wfile.write(data[: b.cut_after])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data)

    return Handler


@pytest.fixture
def server(fixtures_dir):
    files = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(files))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    model = (fixtures_dir / MODEL).read_bytes()
    yield httpd, files, model
    httpd.shutdown()
    httpd.server_close()


def url(httpd, path):
    return f"http://127.0.0.1:{httpd.server_address[1]}{path}"


def pull(rkchat_bin, models, *args, env=None):
    return subprocess.run([rkchat_bin, "pull", *args, "--models", str(models), "--timeout", "5"],
                          capture_output=True, text=True, timeout=60, env=env)


def listed(rkchat_bin, models):
    out = subprocess.run([rkchat_bin, "list", "--models", str(models)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return [line.split()[0] for line in out.stdout.splitlines()[1:]]


def test_cut_connections_resume_to_the_same_bytes(rkchat_bin, server, tmp_path):
    httpd, files, model = server
    files["/m/" + MODEL] = b = Behaviour(model)
    b.cut_after = len(model) // 5 + 1
    r = pull(rkchat_bin, tmp_path, url(httpd, "/m/" + MODEL), "--sha256", hashlib.sha256(model).hexdigest())
    assert r.returncode == 0, r.stderr
    assert (tmp_path / MODEL).read_bytes() == model
    assert len(b.requests) >= 5 and all(rng for _, rng in b.requests[1:])  # every retry asked for the rest
    assert listed(rkchat_bin, tmp_path) == [MODEL]
    assert not list(tmp_path.glob(".*.partial"))


def test_interrupted_pull_is_not_listed_and_a_rerun_resumes(rkchat_bin, server, tmp_path):
    httpd, files, model = server
    files["/" + MODEL] = b = Behaviour(model)
    b.cut_after = len(model) // 2
    r = pull(rkchat_bin, tmp_path, url(httpd, "/" + MODEL), "--retries", "0")
    assert r.returncode == 1
    assert "run the same command again to resume" in r.stderr
    assert listed(rkchat_bin, tmp_path) == []
    assert (tmp_path / f".{MODEL}.partial").stat().st_size == len(model) // 2
    b.cut_after = None
    r = pull(rkchat_bin, tmp_path, url(httpd, "/" + MODEL))
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stdout
    assert b.requests[-1][1] == f"bytes={len(model) // 2}-"
    assert (tmp_path / MODEL).read_bytes() == model


def test_a_server_that_ignores_range_restarts_the_file(rkchat_bin, server, tmp_path):
    httpd, files, model = server
    files["/" + MODEL] = b = Behaviour(model)
    b.cut_after, b.honour_range = len(model) // 3, False
    assert pull(rkchat_bin, tmp_path, url(httpd, "/" + MODEL), "--retries", "0").returncode == 1
    b.cut_after = None
    r = pull(rkchat_bin, tmp_path, url(httpd, "/" + MODEL))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / MODEL).read_bytes() == model


def test_wrong_bytes_fail_the_checksum_and_leave_nothing(rkchat_bin, server, tmp_path):
    httpd, files, model = server
    corrupt = bytearray(model)
    corrupt[len(corrupt) // 2] ^= 0xFF
    files["/" + MODEL] = Behaviour(bytes(corrupt))
    r = pull(rkchat_bin, tmp_path, url(httpd, "/" + MODEL), "--sha256", hashlib.sha256(model).hexdigest())
    assert r.returncode == 1
    assert "SHA-256 mismatch" in r.stderr and "deleted" in r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("body,message", [
    (b"<!DOCTYPE html><html>Sign in</html>" * 10, "not sending a GGUF"),
    (b"GGUF" + b"\xff" * 200, "not a valid GGUF"),
])
def test_a_file_that_is_not_a_model_is_refused(rkchat_bin, server, tmp_path, body, message):
    httpd, files, _ = server
    files["/x.gguf"] = Behaviour(body)
    r = pull(rkchat_bin, tmp_path, url(httpd, "/x.gguf"))
    assert r.returncode == 1
    assert message in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_http_errors_and_bad_names(rkchat_bin, server, tmp_path):
    httpd, files, model = server
    r = pull(rkchat_bin, tmp_path, url(httpd, "/missing.gguf"))
    assert r.returncode == 1 and "HTTP 404" in r.stderr
    files["/notes.txt"] = Behaviour(model)
    r = pull(rkchat_bin, tmp_path, url(httpd, "/notes.txt"))
    assert r.returncode == 1 and "must end in .gguf or .rkllm" in r.stderr
    r = pull(rkchat_bin, tmp_path, "ftp://example/x.gguf")
    assert r.returncode == 1 and "not a download address" in r.stderr
    r = pull(rkchat_bin, tmp_path, url(httpd, "/x.gguf"), "--sha256", "abc")
    assert r.returncode != 0 and "64 hexadecimal" in r.stderr


def test_hf_sources_go_to_the_configured_endpoint(rkchat_bin, server, tmp_path):
    httpd, files, model = server
    files["/owner/repo/resolve/v1/sub/" + MODEL] = Behaviour(model)
    env = dict(os.environ, HF_ENDPOINT=url(httpd, ""))
    r = pull(rkchat_bin, tmp_path, f"hf:owner/repo/sub/{MODEL}@v1", env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / MODEL).read_bytes() == model
    again = pull(rkchat_bin, tmp_path, f"hf:owner/repo/sub/{MODEL}@v1", env=env)
    assert again.returncode == 0 and "already there" in again.stdout


def test_rm_removes_only_models_of_the_folder(rkchat_bin, server, tmp_path):
    httpd, files, model = server
    files["/" + MODEL] = Behaviour(model)
    assert pull(rkchat_bin, tmp_path, url(httpd, "/" + MODEL)).returncode == 0
    outside = tmp_path.parent / "keep.gguf"
    outside.write_bytes(model)
    for name in ("../keep.gguf", "nope.gguf"):
        r = subprocess.run([rkchat_bin, "rm", name, "--models", str(tmp_path)], capture_output=True, text=True)
        assert r.returncode == 1 and "no model named" in r.stderr
    assert outside.exists()
    r = subprocess.run([rkchat_bin, "rm", MODEL, "--models", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert listed(rkchat_bin, tmp_path) == []
