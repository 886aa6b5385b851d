"""Load test: 2 gunicorn workers on PostgreSQL, wrk with 20 connections for 30 s on /healthz, then
on the dashboard (signed in), on a database seeded by bench/seed.py.

    python bench/load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/caseapp_bench_100k

The dashboard is `/cases` as consultant01 sees it, with the session cookie of one sign-in
through the login form. wrk (Debian: `apt-get install -y wrk`) runs a Lua script that counts
every answer other than 200 (a redirect to the login page would otherwise pass for a success)
and reports the 95th percentile, which `--latency` alone does not print. Prints a table and one
JSON line: requests per second, p50/p95/p99, errors, and the dashboard's share of /healthz's rate
(the issue's target: at least 1/20).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from seed import CONSULTANT_EMAIL, PASSWORD  # noqa: E402

TARGET_SHARE = 1 / 20
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

WRK_SCRIPT = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_ok = 0
  if args[1] and args[1] ~= "" then
    wrk.headers["Cookie"] = args[1]
  end
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("not_ok")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "seconds": %.3f, "not_200": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "mean_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, bad, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
"""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                   help="a PostgreSQL database seeded by bench/seed.py (default: $DATABASE_URL)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--connections", type=int, default=20)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--duration", type=int, default=30, help="seconds per endpoint")
    p.add_argument("--timeout", default="10s", help="wrk's request timeout (its default is 2s)")
    p.add_argument("--dashboard", default="/cases")
    return p.parse_args(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: str | None = None, cookie: str = ""):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": cookie} if cookie else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.getheader("Location") or "", \
        response.msg.get_all("Set-Cookie") or [], response.read().decode("utf-8", "replace")


def cookie_of(set_cookies: list[str]) -> str:
    # The cookie is Secure in production; we send it back by hand over loopback HTTP.
    return "; ".join(c.split(";", 1)[0] for c in set_cookies)


def sign_in(port: int) -> str:
    status, _, cookies, html = request(port, "GET", "/login")
    token = CSRF_RE.search(html)
    if status != 200 or token is None:
        raise SystemExit(f"/login answered {status} without a form")
    form = urllib.parse.urlencode({"email": CONSULTANT_EMAIL, "password": PASSWORD,
                                   "csrf_token": token.group(1)})
    status, location, signed_in, _ = request(port, "POST", "/login", form, cookie_of(cookies))
    if status != 302 or not location.endswith("/cases"):
        raise SystemExit(f"sign-in failed: {status} {location}")
    return cookie_of(signed_in)


def wrk(args, port: int, path: str, cookie: str, script: Path) -> dict:
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s",
               "--timeout", args.timeout, "--latency", "-s", str(script),
               f"http://127.0.0.1:{port}{path}", "--", cookie]
    print("$ " + " ".join(command[:-1]) + (" <session cookie>" if cookie else " ''"), flush=True)
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    print("\n".join("    " + line for line in output.splitlines() if not line.startswith("WRK_RESULT")))
    result = json.loads(output.split("WRK_RESULT ", 1)[1].splitlines()[0])
    result["rps"] = round(result["requests"] / result["seconds"], 1)
    result["errors"] = (result["not_200"] + result["connect"] + result["read"] + result["write"]
                        + result["timeout"])
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        raise SystemExit("Give --database-url postgresql+psycopg://... of a database seeded by "
                         "bench/seed.py (the load test runs on PostgreSQL).")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    work = Path(tempfile.mkdtemp(prefix="caseapp-load-"))
    script = work / "count.lua"
    script.write_text(WRK_SCRIPT)
    port = free_port()
    env = dict(os.environ, CASEAPP_ENV="production", DATABASE_URL=args.database_url,
               SECRET_KEY=secrets.token_urlsafe(32), APP_BASE_URL="https://caseapp.load.example",
               RATELIMIT_ENABLED="false", SCHEDULER_ENABLED="false",
               CASEAPP_INSTANCE_DIR=str(work), EVIDENCE_DIR=str(work / "evidence"))
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "-w", str(args.workers),
                "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"]
    print("$ " + " ".join(gunicorn), flush=True)
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=env)
    try:
        for _ in range(150):
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not answer /healthz")
        cookie = sign_in(port)
        status, location, _, _ = request(port, "GET", args.dashboard, cookie=cookie)
        if status != 200:
            raise SystemExit(f"{args.dashboard} answered {status} {location} when signed in")
        results = {"healthz": wrk(args, port, "/healthz", "", script),
                   "dashboard": wrk(args, port, args.dashboard, cookie, script)}
    finally:
        server.terminate()
        server.wait(15)
        shutil.rmtree(work, ignore_errors=True)

    share = results["dashboard"]["rps"] / results["healthz"]["rps"]
    print(f"\n{args.workers} gunicorn workers, wrk {args.threads} threads x {args.connections} "
          f"connections x {args.duration} s each; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs")
    print(f"{'endpoint':12} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:12} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['errors']:>7}")
    errors = sum(r["errors"] for r in results.values())
    verdict = "ok" if share >= TARGET_SHARE and errors == 0 else "MISS"
    print(f"dashboard / healthz = {share:.3f} (1/{1 / share:.1f}); target >= 1/20 and zero errors: "
          f"{verdict}")
    print(json.dumps({"bench": "caseapp-load", "workers": args.workers,
                      "connections": args.connections, "duration_s": args.duration,
                      "dashboard_share": round(share, 4), "errors": errors, "verdict": verdict,
                      "results": results}))
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
