"""`rkchat serve --models DIR` with two .rkllm models on the RKLLM runtime double: each loaded NPU model gets a
memory domain of its own (base_domain_id), the lowest free one from --npu-domain on, and an unloaded model's
domain is reused."""
import pytest

from rkllm_helpers import Npu, find_double_dir
from server_helpers import Server, post_json


@pytest.fixture
def npu_pool(rkchat_bin, build_dir, tmp_path):
    npu = Npu(rkchat_bin, find_double_dir(build_dir), tmp_path)
    npu.script(turns=[{"pieces": [{"text": "Hi.", "token": 9}]}])
    models = tmp_path / "models"
    models.mkdir()
    for name in ("a", "b"):
        (models / f"{name}.rkllm").write_bytes(open(npu.model("1.2.1", f"{name}.rkllm"), "rb").read())
    s = Server(rkchat_bin, ["--models", str(models), "--max-loaded", "2", "--rkllm-lib", npu.lib("1.2.1")],
               tmp_path, env=npu.env)
    s.wait_ready()
    yield npu, s
    assert s.stop() == 0, s.stderr()


def ask(server, model):
    status, r = post_json(server.url + "/v1/chat/completions",
                          {"model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4})
    assert status == 200, r


def domains(npu):
    return [(c["model_path"].rsplit("/", 1)[-1], c["base_domain_id"]) for c in npu.calls("init")]


def test_second_npu_model_takes_the_next_domain(npu_pool):
    npu, s = npu_pool
    ask(s, "a")
    ask(s, "b")
    assert domains(npu) == [("a.rkllm", 0), ("b.rkllm", 1)]
    status, _ = post_json(s.url + "/api/generate", {"model": "a", "keep_alive": 0})  # unloads a
    assert status == 200
    ask(s, "a")
    assert domains(npu)[-1] == ("a.rkllm", 0), "the freed domain is taken again"
    assert npu.failed_checks() == []
