"""`make fuzz-api`: schemathesis against a live caseapp, every operation of the OpenAPI document.

Builds a throwaway database (SQLite, or the PostgreSQL database in FUZZ_DATABASE_URL),
seeds the demo agency, creates an API token, serves the app on a free loopback port and
runs schemathesis with all its checks. Exits with schemathesis's status.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="caseapp-fuzz-"))
    env = {**os.environ, "CASEAPP_ENV": "development", "CASEAPP_INSTANCE_DIR": str(work),
           "SECRET_KEY": "fuzz", "RATELIMIT_ENABLED": "false", "SCHEDULER_ENABLED": "false",
           "DATABASE_URL": os.environ.get("FUZZ_DATABASE_URL") or f"sqlite:///{work / 'fuzz.sqlite'}",
           "EVIDENCE_DIR": str(work / "evidence")}
    flask = [str(BIN / "flask"), "--app", "wsgi"]

    def run(*args: str) -> str:
        return subprocess.run([*flask, *args], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True).stdout

    run("db", "upgrade")
    run("demo", "seed")
    token = run("tokens", "create", "admin@northwind.example", "--name", "fuzz").strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        # No request-line limit: gunicorn's own 414 page is not the app's to document.
        [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "--limit-request-line", "0", "wsgi:app"],
        cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        # All checks but positive_data_acceptance: some rules cannot be written in JSON
        # Schema (a submission is not in the future nor over a year old; a POA version must
        # belong to the case), so schema-valid data is rightly refused with a 422 at times.
        command = [str(BIN / "schemathesis"), "run", f"{base}/api/v1/openapi.json",
                   "-H", f"Authorization: Bearer {token}", "--checks", "all",
                   "--exclude-checks", "positive_data_acceptance",
                   "--max-examples", os.environ.get("FUZZ_MAX_EXAMPLES", "30"),
                   # One worker: ast parsing in parallel threads trips a CPython 3.11 bug in hypothesis.
                   "--workers", "1", "--request-timeout", "20", *sys.argv[1:]]
        if os.environ.get("FUZZ_SEED"):  # CI: the same cases every run, so a red run is reproducible
            command += ["--seed", os.environ["FUZZ_SEED"]]
        print("$", " ".join(command).replace(token, "<token>"), flush=True)
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    sys.exit(main())
