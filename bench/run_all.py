"""Seed, then measure the desk's reads in-process and the inbox page over HTTP; one JSON with everything.

    make bench                                   # SQLite, 100k conversations / 300k messages (minutes)
    .venv/bin/python bench/run_all.py --full     # SQLite, 1,000,000 / 3,000,000 (the issue's size)
    .venv/bin/python bench/run_all.py --full --postgres   # the same on a durable PostgreSQL 15 cluster

With --postgres a throw-away cluster with fsync ON (bench/postgres.sh) is started in the work folder
and stopped at the end, unless DATABASE_URL is already set (then that database is used; it must be
empty). --data-dir keeps the seeded data for later runs; --reuse measures an already seeded folder.
Benchmarks are not tests: nothing here runs in `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable


def run_json(args: list[str], env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    print("$ " + " ".join(args), file=sys.stderr, flush=True)
    out = subprocess.run([PY, *args], env=env, stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(out[out.index("{") :])


def main(argv: list[str] | None = None) -> dict:  # type: ignore[type-arg]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="1M conversations / 3M messages / 200k contacts")
    parser.add_argument(
        "--postgres", action="store_true", help="on PostgreSQL (a durable throw-away cluster)"
    )
    parser.add_argument("--data-dir", help="where to seed (default: a temporary folder, removed after)")
    parser.add_argument("--reuse", action="store_true", help="--data-dir is already seeded: only measure")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--duration", type=int, default=20, help="seconds of HTTP load per URL")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args(argv)

    size = (
        ["--conversations", "1000000", "--messages", "3000000", "--contacts", "200000"]
        if args.full
        else ["--conversations", "100000", "--messages", "300000", "--contacts", "20000"]
    )
    work = Path(args.data_dir or tempfile.mkdtemp(prefix="opiekun-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # the PostgreSQL server runs as `postgres` and must reach its folder inside
    env = dict(os.environ)
    cluster: Path | None = None
    if args.postgres and not env.get("DATABASE_URL"):
        cluster = work / "pg"
        env["DATABASE_URL"] = subprocess.run(
            ["bash", str(HERE / "postgres.sh"), "start", str(cluster), "55498"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    data_dir = str(work / "data")
    results: dict = {
        "benchmark": "all",
        "size": "full" if args.full else "small",  # type: ignore[type-arg]
        "database": "postgresql" if env.get("DATABASE_URL") else "sqlite",
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "loadavg_start": os.getloadavg(),
    }
    try:
        if not args.reuse:
            results["seed"] = run_json([str(HERE / "seed.py"), "--data-dir", data_dir, *size], env)
        results["desk_queries"] = run_json(
            [str(HERE / "desk_queries.py"), "--data-dir", data_dir, "--samples", str(args.samples)], env
        )
        if not args.skip_http:
            results["inbox_http"] = run_json(
                [str(HERE / "inbox_http.py"), "--data-dir", data_dir, "--duration", str(args.duration)], env
            )
    finally:
        if cluster is not None:
            subprocess.run(["bash", str(HERE / "postgres.sh"), "stop", str(cluster)], check=False)
        if not args.data_dir:
            subprocess.run(["rm", "-rf", str(work)], check=False)
    desk = results.get("desk_queries", {})
    http = results.get("inbox_http", {})
    results["summary"] = {
        "seed_s": results.get("seed", {}).get("timings_s", {}).get("total_s"),
        "seed_meets_target": results.get("seed", {}).get("meets_target"),
        "desk_misses": desk.get("misses"),
        "inbox_requests_per_s": (http.get("results") or [{}])[0].get("requests_per_s"),
        "inbox_meets_target": http.get("meets_target"),
    }
    results["loadavg_end"] = os.getloadavg()
    print(json.dumps(results, ensure_ascii=False, indent=2))
    return results


if __name__ == "__main__":
    main()
