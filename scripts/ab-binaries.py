#!/usr/bin/env python3
"""Same-run A/B of kvorum binaries with redis-benchmark (docs/BENCHMARKS.md, "Profile and
optimisation").

    scripts/ab-binaries.py [--reps 3] [--loaded] OLD_KVORUM NEW_KVORUM [...]

For each repetition, and each binary in turn (the order alternates between repetitions), starts
`kvorum dev` with one node (`--replication 1`) and then with three, runs `redis-benchmark` (50
clients, 100 000 random keys) for SET and GET, unpipelined and with `-P 16` on one node, and
reads the server CPU (user + system of `kvorum dev` and every process under it, from /proc)
before and after each run. Prints every run, then per binary and case the median throughput
and the median server CPU-µs per request. With `--loaded`, every key of the range is written
once (`redis-cli --pipe`) before the cases, so GETs find their keys (without it, a GET on three
nodes finds about a fifth of them, on one node about 70%: only the SET cases have written any).
Needs redis-benchmark and redis-cli (Debian: redis-tools); stops every server it started, by
process group.
"""
import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time

CLK = os.sysconf("SC_CLK_TCK")
# (nodes, command, pipeline, requests)
CASES = [
    (1, "set", 1, 40000),
    (1, "get", 1, 60000),
    (1, "set", 16, 80000),
    (1, "get", 16, 160000),
    (3, "set", 1, 20000),
    (3, "get", 1, 40000),
]
PORTS = {1: 27300, 3: 27400}


def descendants(pid):
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            for child in f.read().split():
                pids += descendants(int(child))
    except OSError:
        pass
    return pids


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / CLK


def start(binary, nodes, data_dir):
    port = PORTS[nodes]
    args = [binary, "dev", "--nodes", str(nodes), "--base-port", str(port), "--data-dir", data_dir]
    if nodes == 1:
        args += ["--replication", "1"]
    server = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    for _ in range(100):
        probe = ["redis-cli", "-p", str(port), "set", "ready", "1"]
        if subprocess.run(probe, capture_output=True, text=True).stdout.strip() == "OK":
            time.sleep(1)  # the other nodes finish joining
            return server
        time.sleep(0.3)
    stop(server)
    raise SystemExit(f"{binary} did not answer on port {port}")


def stop(server):
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def load(port, keys):
    """Writes every key redis-benchmark's `-r KEYS` can name (`key:%012d`) with its default
    3-byte value."""
    commands = "".join(
        f"*3\r\n$3\r\nSET\r\n$16\r\nkey:{i:012d}\r\n$3\r\nxxx\r\n" for i in range(keys)
    )
    done = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=commands,
                          capture_output=True, text=True, check=True)
    if "errors: 0," not in done.stdout:
        raise SystemExit(f"loading the keys failed: {done.stdout}")


def bench(port, command, requests, pipeline, pids):
    before = cpu_seconds(pids)
    args = ["redis-benchmark", "-p", str(port), "-t", command, "-n", str(requests), "-c", "50",
            "-r", "100000", "-P", str(pipeline), "--csv"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    after = cpu_seconds(pids)
    ops = float(out.strip().split("\n")[-1].split(",")[1].strip('"'))
    return ops, (after - before) / requests * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--loaded", action="store_true",
                        help="write every key of the range before the cases")
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    results = {}
    scratch = tempfile.mkdtemp(prefix="kvorum-ab-")
    try:
        for rep in range(args.reps):
            order = args.binaries if rep % 2 == 0 else args.binaries[::-1]
            for binary in order:
                for nodes in (1, 3):
                    data_dir = os.path.join(scratch, f"n{nodes}")
                    shutil.rmtree(data_dir, ignore_errors=True)
                    server = start(binary, nodes, data_dir)
                    try:
                        pids = descendants(server.pid)
                        if args.loaded:
                            load(PORTS[nodes], 100000)
                        for case_nodes, command, pipeline, requests in CASES:
                            if case_nodes != nodes:
                                continue
                            run = bench(PORTS[nodes], command, requests, pipeline, pids)
                            key = (binary, nodes, command, pipeline)
                            results.setdefault(key, []).append(run)
                            print(f"rep {rep} {binary} N={nodes} {command} P{pipeline}: "
                                  f"{run[0]:.0f} ops/s, {run[1]:.1f} server CPU-µs/op", flush=True)
                    finally:
                        stop(server)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\nmedians (ops/s, server CPU-µs per request)")
    for (binary, nodes, command, pipeline), runs in sorted(
        results.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][3], args.binaries.index(kv[0][0]))
    ):
        ops = sorted(r[0] for r in runs)
        cpu = sorted(r[1] for r in runs)
        print(f"N={nodes} {command:3} P{pipeline:<2} {binary:40} {ops[len(ops) // 2]:9.0f} "
              f"{cpu[len(cpu) // 2]:7.1f}   runs {[round(x) for x in ops]}")


if __name__ == "__main__":
    main()
