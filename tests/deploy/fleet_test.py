"""Several boards behind HAProxy (deploy/haproxy.cfg): three `rkchat serve` instances, each in a network namespace
of its own playing a board, reached over veth pairs on private /30s that exist only for the test; HAProxy on
loopback in front. 48 concurrent streamed conversations of 3 turns each:
  - with every board up, follow-up turns must find their prefix in the board's prompt cache (>= 90%);
  - with one board killed mid-run, every conversation must still complete (a client retries once on a cut stream).
Needs root, haproxy and a built rkchat. Bounded: fixed request counts, short answers, timeouts everywhere.

  python tests/deploy/fleet_test.py RKCHAT_BIN MODEL.gguf
"""
import http.client
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
BOARDS = 3
CONVERSATIONS = 48
TURNS = 3
PORT = 8080
TIMEOUT = 60


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


class Fleet:
    def __init__(self, rkchat, model):
        self.rkchat, self.model = rkchat, model
        self.tag = str(os.getpid())
        self.boards = []  # (netns, host interface, board address, process)
        self.haproxy = None
        self.lb_port = None

    def board_ip(self, i):
        return f"10.231.{80 + i}.2"

    def start(self):
        for i in range(BOARDS):
            ns, hif, bif = f"rkchat-fleet{i}-{self.tag}", f"rkf{i}h{self.tag}"[:15], f"rkf{i}b{self.tag}"[:15]
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", hif, "type", "veth", "peer", "name", bif)
            sh("ip", "link", "set", bif, "netns", ns)
            sh("ip", "addr", "add", f"10.231.{80 + i}.1/30", "dev", hif)
            sh("ip", "link", "set", hif, "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.board_ip(i)}/30", "dev", bif)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", bif, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            # Slots enough for every conversation the hash may give a board (bounded at twice the average).
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, self.rkchat, "serve", "-m", self.model, "--host", self.board_ip(i),
                 "--port", str(PORT), "--parallel", "32", "--queue", "64", "-c", "1024", "-t", "1"],
                stdout=subprocess.DEVNULL, stderr=open(f"/tmp/rkchat-fleet-board{i}.log", "w"))
            self.boards.append((ns, hif, proc))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.lb_port = s.getsockname()[1]
        env = dict(os.environ, RKCHAT_LB_BIND=f"127.0.0.1:{self.lb_port}",
                   **{f"RKCHAT_BOARD{i + 1}": f"{self.board_ip(i)}:{PORT}" for i in range(BOARDS)})
        self.haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(REPO / "deploy" / "haproxy.cfg")], env=env,
                                        stdout=subprocess.DEVNULL, stderr=open("/tmp/rkchat-fleet-haproxy.log", "w"))
        deadline = time.time() + 60
        while time.time() < deadline:
            if all(self.board_up(i) for i in range(BOARDS)):
                time.sleep(5)  # HAProxy's checks (every 2 s, rise 2) see them up too
                return
            time.sleep(0.5)
        raise RuntimeError("the boards did not answer /health within 60 s (logs: /tmp/rkchat-fleet-*.log)")

    def board_up(self, i):
        try:
            c = http.client.HTTPConnection(self.board_ip(i), PORT, timeout=2)
            c.request("GET", "/health")
            return c.getresponse().status == 200
        except OSError:
            return False

    def metrics(self, i):
        c = http.client.HTTPConnection(self.board_ip(i), PORT, timeout=5)
        c.request("GET", "/metrics")
        return c.getresponse().read().decode()

    def kill(self, i):
        self.boards[i][2].send_signal(signal.SIGKILL)

    def stop(self):
        if self.haproxy:
            self.haproxy.kill()
        for ns, hif, proc in self.boards:
            proc.kill()
            subprocess.run(["ip", "link", "del", hif], stderr=subprocess.DEVNULL)
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def stream_turn(port, messages, conv_id):
    """One streamed chat turn through the balancer: (answer, usage, board), or raises on a cut or bad stream."""
    body = json.dumps({"model": "any", "messages": messages, "stream": True, "max_tokens": 8, "temperature": 0,
                       "stream_options": {"include_usage": True}})
    headers = {"Content-Type": "application/json"}
    if conv_id:
        headers["X-Conversation-Id"] = conv_id
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    c.request("POST", "/v1/chat/completions", body, headers)
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:200]!r}")
    answer, usage, done = "", None, False
    for raw in r:
        line = raw.decode().strip()
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            done = True
            break
        chunk = json.loads(line[6:])
        if "error" in chunk:
            raise RuntimeError(f"error event: {chunk['error']}")
        for choice in chunk.get("choices", []):
            answer += choice.get("delta", {}).get("content") or ""
        usage = chunk.get("usage") or usage
    if not done or usage is None:
        raise RuntimeError("the stream ended without [DONE] and usage")
    return answer, usage, r.getheader("X-Rkchat-Board", "?")


def conversation(port, n, results, on_turn):
    """3 turns; half the conversations name themselves with X-Conversation-Id, half are keyed by their prompts."""
    messages = [{"role": "system", "content": f"You are assistant number {n}. Answer briefly."}]
    conv_id = f"conversation-{n}" if n % 2 else None
    turns = []
    for t in range(TURNS):
        messages.append({"role": "user", "content": f"Question {t} of conversation {n}: what is {n} plus {t}?"})
        for attempt in range(2):  # one retry on a cut stream, as a client does
            try:
                answer, usage, board = stream_turn(port, messages, conv_id)
                break
            except (OSError, RuntimeError, http.client.HTTPException) as e:
                if attempt == 1:
                    results[n] = {"error": f"turn {t}: {e}"}
                    return
        turns.append({"prompt": usage["prompt_tokens"],
                      "cached": (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
                      "board": board})
        messages.append({"role": "assistant", "content": answer})
        on_turn()
    results[n] = {"turns": turns}


def run_conversations(port, kill_after=None, kill=None):
    results, done, lock = {}, [0], threading.Lock()

    def on_turn():
        with lock:
            done[0] += 1
            if kill_after is not None and done[0] == kill_after:
                kill()

    threads = [threading.Thread(target=conversation, args=(port, n, results, on_turn)) for n in range(CONVERSATIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return results


def follow_up_hits(results):
    """A follow-up turn hits when the whole previous prompt came from the cache (a shared template prefix alone
    does not count)."""
    hits = total = 0
    for r in results.values():
        turns = r.get("turns", [])
        for prev, cur in zip(turns, turns[1:]):
            total += 1
            hits += cur["cached"] >= prev["prompt"]
    return hits, total


def main():
    rkchat, model = sys.argv[1], sys.argv[2]
    fleet = Fleet(rkchat, model)
    failures = 0
    try:
        fleet.start()
        t0 = time.time()
        up = run_conversations(fleet.lb_port)
        errors = [r["error"] for r in up.values() if "error" in r]
        hits, total = follow_up_hits(up)
        rate = hits / total if total else 0
        print(f"all boards up: {CONVERSATIONS} conversations x {TURNS} turns in {time.time() - t0:.1f} s, "
              f"{len(errors)} failed; follow-up prompt-cache hits {hits}/{total} = {100 * rate:.1f}%")
        for i in range(BOARDS):
            lines = [l for l in fleet.metrics(i).splitlines() if "cache" in l and not l.startswith("#")]
            print(f"  board {i + 1} /metrics: " + "; ".join(lines[:4]))
        failures += bool(errors) + (rate < 0.9)
        for e in errors[:5]:
            print("  error:", e)

        t0 = time.time()
        killed = run_conversations(fleet.lb_port, kill_after=CONVERSATIONS, kill=lambda: fleet.kill(0))
        errors = [r["error"] for r in killed.values() if "error" in r]
        complete = sum("turns" in r and len(r["turns"]) == TURNS for r in killed.values())
        print(f"board 1 killed after {CONVERSATIONS} turns: {complete}/{CONVERSATIONS} conversations complete in "
              f"{time.time() - t0:.1f} s, {len(errors)} failed")
        failures += complete != CONVERSATIONS
        for e in errors[:5]:
            print("  error:", e)
    finally:
        fleet.stop()
    checks = 3
    print(f"fleet: {checks - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
