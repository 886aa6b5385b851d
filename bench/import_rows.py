"""Time and memory of a spreadsheet import (services/cases/imports.py) at 10,000 rows.

    python bench/import_rows.py [--rows 10000] [--database-url URL]

Writes a CSV and an XLSX of N clients and of N cases (of N/20 clients, each case with a
reference, two ASINs, a notice date, an assignee and a note), then, on a fresh database for
each format (a temporary SQLite file, or the empty database of --database-url with one
--formats), runs in a process of its own each: the clients dry run, the
clients import, the cases dry run, the cases import (every case new) and the same cases file
again (every case unchanged). Prints seconds and peak RSS of each step (the process's peak,
the app's own baseline shown beside it) and one JSON line. Target (issue 18): 10,000 rows in
under 30 s on SQLite.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from seed import bench_environment  # noqa: E402

TARGET_S = 30.0
REASONS = ("Policy violation", "Customer complaints", "Performance metrics", "Intellectual property", "Other")
KINDS = ("Account suspension", "Listing deactivation", "Other")
IMPORTER = "bench-importer@bench.example"
CONSULTANT = "bench-consultant@bench.example"
STEPS = (("clients", True), ("clients", False), ("cases", True), ("cases", False), ("cases", False))


def seller(i: int) -> str:
    return f"A2BENCH{i:07d}"


def asin(i: int) -> str:
    return f"B0{i:08d}"


def rows(kind: str, n: int, rng: random.Random) -> list[list[str]]:
    if kind == "clients":
        out = [["Business name", "Merchant token", "Marketplace", "Contact", "Email", "Notes"]]
        for i in range(n):
            out.append([f"Seller {i} Trading", seller(i), rng.choice(("US", "DE", "UK", "FR")), f"Owner {i}",
                        f"owner{i}@seller{i}.example", "imported by the benchmark"])
        return out
    out = [["Case ID", "Seller ID", "Subject", "Type", "Reason", "ASINs", "Notice date", "Consultant", "Notes"]]
    clients = max(1, n // 20)
    for i in range(n):
        out.append([f"BENCH-{i:06d}", seller(i % clients), f"Suspension {i}", rng.choice(KINDS),
                    rng.choice(REASONS), f"{asin(2 * i)}, {asin(2 * i + 1)}",
                    f"{rng.randint(1, 28):02d}/{rng.randint(1, 11):02d}/2026", CONSULTANT,
                    f"Case {i} came in the spreadsheet."])
    return out


def write_files(folder: Path, n: int) -> dict[tuple[str, str], Path]:
    import openpyxl

    rng = random.Random(18)
    files = {}
    for kind in ("clients", "cases"):
        data = rows(kind, n, rng)
        path = folder / f"{kind}.csv"
        with open(path, "w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows(data)
        files[(kind, "csv")] = path
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        for row in data:
            sheet.append(row)
        path = folder / f"{kind}.xlsx"
        book.save(path)
        files[(kind, "xlsx")] = path
    return files


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def step(args: argparse.Namespace) -> None:
    """One import in this process: prints a JSON line of its figures."""
    bench_environment(args.database_url)
    from caseapp import create_app
    from caseapp.core.transaction import transaction
    from caseapp.extensions import db
    from caseapp.services.accounts import people
    from caseapp.services.cases import imports
    from caseapp.services.deadlines import presets

    app = create_app()
    with app.app_context():
        if args.kind == "setup":  # in a process of its own: password hashing would raise the first step's peak
            with transaction():
                agency = people.create_agency("Bench imports")
            people.create_user(agency, IMPORTER, "Bench Importer", "admin", "bench-password-1", None)
            people.create_user(agency, CONSULTANT, "Bench Consultant", "consultant", "bench-password-1", None)
            return
        actor = people.find_user(IMPORTER)
        baseline = peak_mb()
        path = Path(args.file)
        started = time.perf_counter()
        plan = imports.import_file(actor, args.kind, path, dry_run=args.dry_run, open_cases=presets.open_cases)
        seconds = time.perf_counter() - started
        if plan.errors:
            raise SystemExit("; ".join(str(e) for e in plan.errors[:5]))
        print(json.dumps({"kind": args.kind, "format": args.format, "dry_run": args.dry_run, "rows": plan.rows,
                          "summary": plan.summary(), "seconds": round(seconds, 2),
                          "peak_rss_mb": round(peak_mb(), 1), "baseline_rss_mb": round(baseline, 1),
                          "database": db.engine.url.get_backend_name()}))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--database-url", default=None,
                   help="an empty database, for one format (default: a temporary SQLite file per format)")
    p.add_argument("--formats", default="csv,xlsx")
    p.add_argument("--step", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--kind", help=argparse.SUPPRESS)
    p.add_argument("--format", help=argparse.SUPPRESS)
    p.add_argument("--file", help=argparse.SUPPRESS)
    p.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.step:
        step(args)
        return
    work = Path(tempfile.mkdtemp(prefix="caseapp-import-bench-"))
    files = write_files(work, args.rows)
    formats = args.formats.split(",")
    if args.database_url and len(formats) > 1:
        raise SystemExit("--database-url takes one format at a time (--formats csv or --formats xlsx).")
    results = []
    print(f"{'step':<32} {'rows':>6} {'seconds':>8} {'peak RSS':>9} {'baseline':>9}  result")
    for fmt in formats:
        url = args.database_url or f"sqlite:///{work / f'bench-{fmt}.sqlite'}"
        env = dict(os.environ, DATABASE_URL=url, CASEAPP_INSTANCE_DIR=str(work), RATELIMIT_ENABLED="false",
                   SCHEDULER_ENABLED="false", CASEAPP_ENV=os.environ.get("CASEAPP_ENV", "development"),
                   SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret-key"))
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--step", "--kind", "setup", "--format", fmt,
                        "--database-url", url], cwd=ROOT, env=env, check=True)
        for kind, dry in STEPS:
            command = [sys.executable, str(Path(__file__).resolve()), "--step", "--kind", kind, "--format", fmt,
                       "--file", str(files[(kind, fmt)]), "--database-url", url] + (["--dry-run"] if dry else [])
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(done.stderr[-3000:] or done.stdout[-3000:])
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            results.append(figures)
            name = f"{fmt} {kind} {'dry run' if dry else 'import'}"
            print(f"{name:<32} {figures['rows']:>6} {figures['seconds']:>8.2f} {figures['peak_rss_mb']:>7.0f}MB "
                  f"{figures['baseline_rss_mb']:>7.0f}MB  {figures['summary']}", flush=True)
    worst = max(r["seconds"] for r in results)
    print(f"slowest step {worst:.1f} s (target under {TARGET_S:.0f} s): {'met' if worst < TARGET_S else 'NOT met'}")
    print(json.dumps({"rows": args.rows, "database": results[0]["database"], "steps": results}))


if __name__ == "__main__":
    main()
