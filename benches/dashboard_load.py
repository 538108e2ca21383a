#!/usr/bin/env python3
"""What `seminas dashboard` costs (docs/dashboard.md): the time to answer for a run of 10,000
queries, the server's memory, and whether a search slows down while the dashboard polls it.

    python3 benches/dashboard_load.py [--bin target/release/seminas] [--queries 10000]

Prints: seconds per `GET /api/runs/ID` (every trial) and `GET /api/runs` for the large run;
the dashboard's peak resident memory (VmHWM); the wall time of a table search with a run
directory (`--algo random --queries 3000`), 3 times alone and 3 times while a client polls its
run every 0.1 s.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request


def get(url):
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
    return time.perf_counter() - t, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/seminas")
    ap.add_argument("--queries", type=int, default=10000)
    args = ap.parse_args()
    seminas = os.path.abspath(args.bin)
    root = tempfile.mkdtemp(prefix="seminas-dash-load-")
    dash = None
    try:
        big = os.path.join(root, "big")
        t = time.perf_counter()
        subprocess.run([seminas, "search", "--algo", "random", "--queries", str(args.queries),
                        "--quiet", "--out", big], check=True, stdout=subprocess.DEVNULL)
        print(f"a {args.queries}-query random search with a run directory: "
              f"{time.perf_counter() - t:.2f} s")
        dash = subprocess.Popen([seminas, "dashboard", root, "--port", "0"],
                                stderr=subprocess.PIPE, text=True)
        url = re.search(r"http://[0-9.:]+/", dash.stderr.readline()).group(0)
        runs = json.loads(get(url + "api/runs")[1])["runs"]
        rid = runs[0]["id"]
        times, size = [], 0
        for _ in range(5):
            dt, body = get(f"{url}api/runs/{rid}")
            times.append(dt)
            size = len(body)
        print(f"GET /api/runs/ID ({args.queries} trials, {size / 1e6:.1f} MB): "
              f"median {statistics.median(times):.3f} s, max {max(times):.3f} s")
        lst = [get(url + "api/runs")[0] for _ in range(5)]
        print(f"GET /api/runs: median {statistics.median(lst):.3f} s")
        status = open(f"/proc/{dash.pid}/status").read()
        hwm = re.search(r"VmHWM:\s+(\d+) kB", status).group(1)
        print(f"dashboard peak resident memory: {int(hwm) / 1024:.1f} MB")

        def search(name):
            t = time.perf_counter()
            subprocess.run([seminas, "search", "--algo", "random", "--queries", "3000", "--quiet",
                            "--out", os.path.join(root, name)], check=True, stdout=subprocess.DEVNULL)
            return time.perf_counter() - t

        alone = [search(f"alone{i}") for i in range(3)]
        polled = []
        for i in range(3):
            stop = threading.Event()

            def poll(name=f"polled{i}"):
                while not stop.is_set():
                    try:
                        for r in json.loads(get(url + "api/runs")[1])["runs"]:
                            if r["dir"].endswith(name):
                                get(f"{url}api/runs/{r['id']}")
                    except Exception:
                        pass
                    time.sleep(0.1)

            th = threading.Thread(target=poll)
            th.start()
            polled.append(search(f"polled{i}"))
            stop.set()
            th.join()
        print("3000-query search, wall seconds alone:  " + ", ".join(f"{x:.2f}" for x in alone))
        print("3000-query search, wall seconds polled: " + ", ".join(f"{x:.2f}" for x in polled))
    finally:
        if dash:
            dash.kill()
            dash.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
