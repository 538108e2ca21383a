#!/usr/bin/env python3
"""Real-browser test of `seminas dashboard` (Chromium driven over WebDriver, standard library
only): a finished run, a running one (a command evaluator with a slow script) and a run whose
categorical choice is `<script>alert(1)</script>`.

    python3 tests/browser/dashboard_test.py [--bin target/release/seminas] [--screenshots DIR]

Checks: the best-so-far curve has one point per query, the trials table one row per query,
the live run's count grows, the malicious choice shows as text and runs nothing. Exit status
77 (and a message saying the test did not run) when chromium or chromedriver is missing.
"""

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

NOT_RUN = 77
EVIL = "<script>alert(1)</script>"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    def __init__(self, port, chromium):
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1300,1700"]}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            value = json.load(e)["value"]
            raise RuntimeError(f"{method} {path}: {value.get('error')}: {value.get('message')}")

    def s(self, path):
        return f"/session/{self.session}{path}"

    def go(self, url):
        self.call("POST", self.s("/url"), {"url": url})

    def js(self, script):
        return self.call("POST", self.s("/execute/sync"), {"script": script, "args": []})

    def wait(self, script, what, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            value = self.js(script)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")

    def alert_open(self):
        try:
            self.call("GET", self.s("/alert/text"))
            return True
        except RuntimeError as e:
            if "no such alert" in str(e):
                return False
            raise

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.call("GET", self.s("/screenshot"))))

    def quit(self):
        try:
            self.call("DELETE", self.s(""))
        except Exception:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/seminas")
    ap.add_argument("--screenshots", default=None)
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        print("browser test NOT RUN: chromium and chromedriver are needed "
              "(Debian: apt-get install chromium chromium-driver)", file=sys.stderr)
        return NOT_RUN
    seminas = os.path.abspath(args.bin)
    root = tempfile.mkdtemp(prefix="seminas-browser-")
    procs = []
    try:
        run = lambda *a: subprocess.run([seminas, *a], check=True, capture_output=True)
        run("search", "--queries", "25", "--seed", "2", "--quiet", "--out", f"{root}/finished")
        with open(f"{root}/evil.toml", "w") as f:
            f.write(f'name = "evil"\n[[position]]\nname = "op"\nchoices = ["{EVIL}", "conv"]\n'
                    '[[position]]\nname = "depth"\nchoices = ["2", "3"]\n')
        with open(f"{root}/evil.csv", "w") as f:
            f.write(f"op,depth,val,test\n{EVIL},2,1.0,1.5\n{EVIL},3,2.0,2.5\nconv,2,3.0,3.5\nconv,3,0.5,0.7\n")
        run("search", "--space", f"{root}/evil.toml", "--table", f"{root}/evil.csv", "--objective", "val",
            "--report", "test", "--algo", "random", "--queries", "4", "--quiet", "--out", f"{root}/evil")
        live = subprocess.Popen(
            [seminas, "search", "--algo", "random", "--queries", "60", "--quiet", "--out", f"{root}/live",
             "--evaluator", 'sleep 1; echo "{\\"objective\\": ${#SEMINAS_ARCH}}"'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(live)
        dash = subprocess.Popen([seminas, "dashboard", root, "--port", "0"],
                                stderr=subprocess.PIPE, text=True)
        procs.append(dash)
        line = dash.stderr.readline()
        url = re.search(r"http://[0-9.:]+/", line).group(0)
        port = free_port()
        procs.append(subprocess.Popen([driver, f"--port={port}"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        ids = {}
        for _ in range(100):
            runs = json.load(urllib.request.urlopen(url + "api/runs"))["runs"]
            ids = {os.path.basename(r["dir"]): r["id"] for r in runs}
            if len(ids) == 3:
                break
            time.sleep(0.1)
        assert set(ids) == {"finished", "evil", "live"}, ids
        wd = WebDriver(port, chromium)
        try:
            wd.go(url)
            n = wd.wait("return document.querySelectorAll('#runs tr.run-row').length === 3 && 3",
                        "the runs list")
            print(f"runs list: {n} runs")
            if args.screenshots:
                wd.screenshot(os.path.join(args.screenshots, "dashboard-runs.png"))

            wd.go(url + "#/run/" + ids["live"])
            wd.wait("const h = document.querySelector('h2');"
                    "return h && h.textContent.endsWith('/live')", "the live run's page")
            count = "const e = document.getElementById('query-count'); return e && Number(e.textContent)"
            first = wd.wait(count + " + 1", "the live run") - 1
            grown = wd.wait(f"const e = document.getElementById('query-count');"
                            f"return e && Number(e.textContent) > {first} && Number(e.textContent)",
                            "the live run's count to grow")
            state = wd.js("return document.getElementById('run-state').textContent")
            print(f"live run: {first} then {grown} queries ({state})")
            assert state == "running", state

            wd.go(url + "#/run/" + ids["finished"])
            wd.wait("const h = document.querySelector('h2');"
                    "return h && h.textContent.endsWith('/finished')", "the finished run's page")
            points = wd.wait("const c = document.querySelector('polyline.curve');"
                             "return c && c.points.numberOfItems", "the best-so-far curve")
            rows = wd.js("return document.querySelectorAll('#trials tr.trial-row').length")
            assert points == 25, f"the curve has {points} points, not 25"
            assert rows == 25, f"the table has {rows} rows, not 25"
            print(f"finished run: curve of {points} points, table of {rows} rows")
            wd.js("document.querySelector('#trials tr.trial-row').click()")
            wd.wait("return document.querySelector('#detail svg.arch')", "the architecture drawing")
            if args.screenshots:
                wd.screenshot(os.path.join(args.screenshots, "dashboard-run.png"))

            wd.go(url + "#/run/" + ids["evil"])
            wd.wait("const h = document.querySelector('h2');"
                    "return h && h.textContent.endsWith('/evil')", "the evil run's page")
            wd.wait("return document.querySelectorAll('#trials tr.trial-row').length === 4", "the evil run")
            shown = wd.js(f"return document.body.innerText.includes({json.dumps(EVIL)})")
            scripts = wd.js("return document.scripts.length")
            assert shown, "the malicious choice is not shown as text"
            assert not wd.alert_open(), "the malicious choice ran as a script"
            assert scripts == 1, f"{scripts} script elements (only app.js is expected)"
            print("malicious choice: shown as text, not run")
        finally:
            wd.quit()
        print("browser test passed")
        return 0
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
