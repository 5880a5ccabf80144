#!/usr/bin/env python3
"""Replays a catalogue of hostile inputs against the rkchat binary: every command, malformed and mutated GGUF
files, FIFOs, devices, directories, huge and deep JSON, hostile chat templates, stdin floods and nonsense option
values. The hostile files are made at run time in a temporary folder from the tiny fixture models.

For each case: never a signal, at most CPU_LIMIT seconds of CPU time (user + system, so that a machine shared with
compilers does not decide the outcome) and WALL_LIMIT seconds of wall time (hangs), at most MAX_RSS_MB of peak
memory (measured per child with wait4), no uncaught C++ exception text, and the expected outcome:
  error: exit 1 or 2 with a message on stderr that matches the case's pattern (the problem named)
  ok:    exit 0 (and the pattern, if any, in stdout+stderr)
  any:   exit 0, or 1/2 with a message (generated mutations: some leave the file valid)

Usage: replay.py [--bin build/ci/rkchat] [--fixtures DIR] [--jobs N] [-k SUBSTRING] [-v]
Prints an outcome table (category: tried / passed) and a closing line "N passed, N failed"; exit 1 on failure."""
import argparse
import concurrent.futures
import os
import pathlib
import re
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import catalogue  # noqa: E402

CPU_LIMIT = 5.0
WALL_LIMIT = 20.0
MAX_RSS_MB = 400
# bench measures the machine's memory bandwidth by streaming a buffer of ~0.6 GB, by design, for a few seconds.
BENCH_CPU_LIMIT = 20.0
BENCH_WALL_LIMIT = 60.0
BENCH_MAX_RSS_MB = 1000
AS_LIMIT = 4 << 30  # a safety net for the machine; the measured peak is what the check uses
CRASH_TEXT = re.compile(r"terminate called|std::bad_alloc|Segmentation|AddressSanitizer|core dumped|Aborted")


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def execute(rkchat, case, workdir):
    """Runs one case; returns (passed, detail)."""
    is_bench = case.args[:1] == ["bench"]
    timeout = BENCH_WALL_LIMIT if is_bench else WALL_LIMIT
    cpu_limit = BENCH_CPU_LIMIT if is_bench else CPU_LIMIT
    max_rss = BENCH_MAX_RSS_MB if is_bench else MAX_RSS_MB
    out_path = workdir / f"out.{os.getpid()}.{id(case)}"
    with open(out_path, "w+b") as out, open(str(out_path) + ".err", "w+b") as err:
        stdin = subprocess.DEVNULL
        if case.stdin_file:
            stdin = open(case.stdin_file, "rb")
        elif case.stdin is not None:
            stdin = subprocess.PIPE
        t0 = time.monotonic()
        proc = subprocess.Popen([rkchat, *case.args], stdin=stdin, stdout=out, stderr=err, cwd=workdir,
                                preexec_fn=limit_memory, env=case.env)
        if case.stdin is not None:
            try:
                proc.stdin.write(case.stdin)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                timed_out = True
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        proc.returncode = 0  # reaped here: keep Popen from waiting again
        if hasattr(stdin, "close"):
            stdin.close()
        elapsed = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        stdout = out.read(1 << 20).decode("utf-8", "replace")
        stderr = err.read(1 << 20).decode("utf-8", "replace")
    os.unlink(out_path)
    os.unlink(str(out_path) + ".err")
    rss_mb = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    if timed_out:
        return False, f"timed out after {timeout:.0f} s (wall)"
    if cpu > cpu_limit:
        return False, f"{cpu:.1f} s of CPU time > {cpu_limit:.0f} s ({elapsed:.1f} s wall)"
    if os.WIFSIGNALED(status):
        return False, f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}: {stderr[-300:]!r}"
    code = os.WEXITSTATUS(status)
    if rss_mb > max_rss:
        return False, f"peak memory {rss_mb:.0f} MB > {max_rss} MB (exit {code}, {elapsed:.1f} s)"
    if CRASH_TEXT.search(stderr):
        return False, f"exit {code} with crash text: {stderr[-300:]!r}"
    text = stdout + stderr
    # doctor's report, with its verdict, is its message (on stdout).
    message = text if case.args[:1] == ["doctor"] else stderr
    if case.expect == "error":
        if code not in (1, 2):
            return False, f"exit {code}, expected 1 or 2: {stderr[-300:]!r}"
        if not message.strip():
            return False, f"exit {code} with no message"
        if case.pattern and not re.search(case.pattern, message, re.I | re.S):
            return False, f"exit {code}, message does not match /{case.pattern}/: {stderr[-300:]!r}"
    elif case.expect == "ok":
        if code != 0:
            return False, f"exit {code}, expected 0: {stderr[-300:]!r}"
        if case.pattern and not re.search(case.pattern, text, re.I | re.S):
            return False, f"output does not match /{case.pattern}/: {text[-300:]!r}"
    else:
        if code not in (0, 1, 2):
            return False, f"exit {code}: {stderr[-300:]!r}"
        if code != 0 and len(message.strip()) < 10:
            return False, f"exit {code} without a message: {stderr!r}"
    if case.after:
        problem = case.after()
        if problem:
            return False, problem
    return True, f"exit {code}, {cpu:.2f} s CPU, {elapsed:.2f} s wall, {rss_mb:.0f} MB"


def main():
    root = pathlib.Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("RKCHAT_BIN", str(root / "build" / "ci" / "rkchat")))
    ap.add_argument("--fixtures", default=os.environ.get("RKCHAT_FIXTURES_DIR", str(root.parent / "shared" / "fixtures")))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("-k", default="", help="only cases whose name contains this")
    ap.add_argument("-v", action="store_true", help="print every case")
    args = ap.parse_args()
    rkchat = str(pathlib.Path(args.bin).resolve())
    fixtures = pathlib.Path(args.fixtures)
    if not pathlib.Path(rkchat).is_file():
        sys.exit(f"replay: no rkchat binary at {rkchat}")
    if not (fixtures / "tiny-qwen3-f32.gguf").is_file():
        sys.exit(f"replay: no fixtures at {fixtures}")

    with tempfile.TemporaryDirectory(prefix="rkchat-hostile-") as tmp:
        workdir = pathlib.Path(tmp)
        t0 = time.monotonic()
        cases = [c for c in catalogue.build(workdir, fixtures, root) if args.k in c.name]
        made = time.monotonic() - t0
        results = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(execute, rkchat, c, workdir): c for c in cases}
            for fut in concurrent.futures.as_completed(futures):
                results[futures[fut].name] = fut.result()

    table = {}
    failures = []
    for c in cases:
        passed, detail = results[c.name]
        tried, ok = table.get(c.category, (0, 0))
        table[c.category] = (tried + 1, ok + passed)
        if args.v:
            print(f"{'ok  ' if passed else 'FAIL'} {c.name}: {detail}")
        if not passed:
            failures.append(f"FAIL {c.category}/{c.name}: rkchat {' '.join(c.args)[:160]}\n     {detail}")
    print(f"\nrkchat hostile replay: {len(cases)} cases ({made:.1f} s to make the files, {time.monotonic() - t0:.0f} s in all)")
    for line in failures:
        print(line)
    width = max(len(k) for k in table)
    print(f"\n{'category':<{width}}  tried  passed")
    for cat, (tried, ok) in table.items():
        print(f"{cat:<{width}}  {tried:>5}  {ok:>6}")
    n_fail = len(failures)
    print(f"{len(cases) - n_fail} passed, {n_fail} failed")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
