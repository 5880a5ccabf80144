#!/usr/bin/env python3
"""rkchat's embeddings against llama.cpp's llama-embedding on the same GGUF and texts: cosine similarity and the
largest absolute difference per text. Not a test (it needs a llama.cpp build); the unit tests check the same hidden
states against llama.cpp's reference logits in ../shared/fixtures.

  rkchat synth --arch qwen3 --size tiny --type f32 --pooling last -o /tmp/emb.gguf
  bench/embeddings_vs_llama.py --rkchat build/release/rkchat --llama-embedding llama.cpp/build/bin/llama-embedding \
      -m /tmp/emb.gguf --pooling last --exact

--exact runs both with an F32 KV cache and llama.cpp without flash attention (which rounds keys and values to F16
whatever the cache type), so F32 weights give the same vectors to float rounding.
"""
import argparse
import json
import math
import re
import subprocess
import tempfile
import time
import urllib.request

TEXTS = ["Hello world",
         "The quick brown fox jumps over the lazy dog.",
         "<|im_start|>user What is the capital of France?<|im_end|>",
         " ".join(["Rockchip boards run large language models on their NPU and CPU cores, every day."] * 8)]


def llama_vectors(a):
    extra = ["-ctk", "f32", "-ctv", "f32", "-fa", "off"] if a.exact else []
    r = subprocess.run([a.llama_embedding, "-m", a.model, "-p", "\n".join(TEXTS), "--pooling", a.pooling,
                        "--embd-normalize", "2", "--embd-output-format", "json", "-t", str(a.threads), "-c",
                        str(a.ctx), *extra], capture_output=True, text=True, check=True)
    return [d["embedding"] for d in json.loads(r.stdout)["data"]]


def rkchat_vectors(a):
    extra = ["--kv-type", "f32"] if a.exact else []
    with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
        p = subprocess.Popen([a.rkchat, "serve", "-m", a.model, "--host", "127.0.0.1", "--port", "0", "-t",
                              str(a.threads), "-c", str(a.ctx), *extra], stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 300
            while not (m := re.search(r"listening on http://[^:]+:(\d+)", open(log.name).read())):
                if p.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("rkchat serve did not start: " + open(log.name).read())
                time.sleep(0.1)
            req = urllib.request.Request(f"http://127.0.0.1:{m.group(1)}/v1/embeddings",
                                         json.dumps({"model": "m", "input": TEXTS}).encode(),
                                         {"Content-Type": "application/json"})
            r = json.load(urllib.request.urlopen(req, timeout=900))
            return [d["embedding"] for d in r["data"]], r["usage"]["prompt_tokens"]
        finally:
            p.terminate()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rkchat", required=True)
    ap.add_argument("--llama-embedding", required=True)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--pooling", required=True, choices=["mean", "cls", "last"])
    ap.add_argument("--exact", action="store_true")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-c", "--ctx", type=int, default=1024)
    a = ap.parse_args()
    ref = llama_vectors(a)
    ours, tokens = rkchat_vectors(a)
    print(f"{a.model}: pooling {a.pooling}, {len(TEXTS)} texts, {tokens} tokens, dim {len(ref[0])}")
    for i, (x, y) in enumerate(zip(ref, ours)):
        cos = sum(p * q for p, q in zip(x, y)) / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y))
        print(f"  text {i}: cosine {cos:.9f}  max |diff| {max(abs(p - q) for p, q in zip(x, y)):.2e}")


if __name__ == "__main__":
    main()
