#!/usr/bin/env python3
"""Aggregate decode throughput of an OpenAI-compatible server (rkchat serve, llama-server) under N concurrent
streamed clients, over loopback HTTP. Not a test: it measures.

For each N in --clients, N threads each send --requests streamed chat completions (greedy, --max-tokens, a prompt
of distinct words per request so no two share a cached prefix beyond the template) and time every chunk. Prints,
per N: aggregate decode tokens/s (all tokens after each request's first, over the window in which all N clients
were generating), per-stream decode tokens/s (median), TTFT (median), and the longest gap between two chunks of
one stream. --json prints one object per N.

  bench/http_bench.py --url http://127.0.0.1:8080 --clients 1,2,4,8 --max-tokens 64
"""
import argparse
import json
import statistics
import threading
import time
import urllib.request

WORDS = ("river stone cloud lamp orbit violet marble cedar falcon harbor quartz meadow ember glacier tundra canyon "
         "lantern willow copper saffron").split()


def prompt_for(i):
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(12)]
    return f"Request {i}: write a long story that uses the words " + ", ".join(words) + "."


def one_request(url, i, max_tokens, timeout):
    """(request start, [chunk arrival times of content], completion tokens from usage or chunk count)."""
    body = {"model": "bench", "messages": [{"role": "user", "content": prompt_for(i)}], "max_tokens": max_tokens,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True},
            "chat_template_kwargs": {"enable_thinking": False}}
    req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    start = time.monotonic()
    times, usage = [], None
    with urllib.request.urlopen(req, timeout=timeout) as r:
        for raw in r:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[len("data: "):])
            if event.get("usage"):
                usage = event["usage"]
            for c in event.get("choices") or []:
                d = c.get("delta") or {}
                if d.get("content") or d.get("reasoning_content"):
                    times.append(time.monotonic())
    tokens = usage["completion_tokens"] if usage else len(times)
    return start, times, tokens


def run_level(url, clients, requests, max_tokens, timeout):
    results, errors = [], []
    lock = threading.Lock()

    def client(c):
        for k in range(requests):
            try:
                r = one_request(url, c * 1000 + k, max_tokens, timeout)
                with lock:
                    results.append(r)
            except Exception as e:  # a failed request is reported, not hidden
                with lock:
                    errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if not results:
        raise SystemExit(f"no request completed at {clients} clients: {errors[:3]}")
    # Aggregate: tokens after the first of each request, over the span from the first first-token to the last
    # token (prefill of the first prompts excluded, as a decode figure).
    first = min(t[0] for _, t, _ in results if t)
    last = max(t[-1] for _, t, _ in results if t)
    decoded = sum(max(0, n - 1) for _, _, n in results)
    per_stream = [(len(t) - 1) / (t[-1] - t[0]) for _, t, _ in results if len(t) > 2 and t[-1] > t[0]]
    gaps = [max(b - a for a, b in zip(t, t[1:])) for _, t, _ in results if len(t) > 1]
    return {
        "clients": clients,
        "requests": len(results),
        "errors": len(errors),
        "aggregate_decode_tok_s": decoded / (last - first) if last > first else 0.0,
        "per_stream_decode_tok_s": statistics.median(per_stream) if per_stream else 0.0,
        "ttft_ms": statistics.median((t[0] - s) * 1000 for s, t, _ in results if t),
        "max_gap_ms": max(gaps) * 1000 if gaps else 0.0,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--clients", default="1,2,4,8", help="comma-separated concurrency levels")
    ap.add_argument("--requests", type=int, default=2, help="streamed requests per client and level")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=600, help="seconds per request")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    levels = [int(x) for x in args.clients.split(",") if x]
    if not levels or min(levels) < 1 or max(levels) > 256 or not 1 <= args.requests <= 100:
        raise SystemExit("--clients takes 1..256 each, --requests 1..100")
    rows = [run_level(args.url.rstrip("/"), n, args.requests, args.max_tokens, args.timeout) for n in levels]
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return
    base = rows[0]["aggregate_decode_tok_s"]
    print(f"{'clients':>7} {'aggregate tok/s':>15} {'x first':>7} {'per stream':>10} {'TTFT ms':>8} "
          f"{'max gap ms':>10} {'errors':>6}")
    for r in rows:
        ratio = r["aggregate_decode_tok_s"] / base if base else 0.0
        print(f"{r['clients']:>7} {r['aggregate_decode_tok_s']:>15.2f} {ratio:>7.2f} "
              f"{r['per_stream_decode_tok_s']:>10.2f} {r['ttft_ms']:>8.0f} {r['max_gap_ms']:>10.0f} {r['errors']:>6}")


if __name__ == "__main__":
    main()
