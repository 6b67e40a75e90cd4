"""Requests per second of the desk's inbox page over HTTP, on the WSGI serving path (granian).

    .venv/bin/python bench/inbox_http.py --data-dir /tmp/opiekun-bench [--duration 20] [--connections 16]

Starts `granian --interface wsgi --workers 2 opiekun.config.wsgi:application` on a free loopback
port against the seeded data (DATABASE_URL is passed through), signs the bench agent in through the
real login form, then hammers the inbox URL with `wrk` (Debian's package; `apt-get install wrk`) for a
bounded time and prints requests/s and latency percentiles as JSON. Loopback only; the load
generator and the server share the machine's 2 cores, as they would on a developer's laptop.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_AGENT, BENCH_PASSWORD, ROOT, emit

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_report.lua"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    data_dir: str, port: int, workers: int, threads: int, settings: str = "opiekun.config.settings.dev"
) -> subprocess.Popen:  # type: ignore[type-arg]
    extra_path = os.environ.get("PYTHONPATH", "")
    env = {
        **os.environ,
        "OPIEKUN_DATA_DIR": str(Path(data_dir).resolve()),
        "DJANGO_SETTINGS_MODULE": settings,
        "OPIEKUN_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OPIEKUN_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT / "src") + (os.pathsep + extra_path if extra_path else ""),
    }
    granian = str(Path(sys.executable).parent / "granian")
    cmd = [
        granian,
        "--interface",
        "wsgi",
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-log",
        "opiekun.config.wsgi:application",
    ]
    return subprocess.Popen(
        cmd, env=env, cwd=str(ROOT), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def stop_server(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_ready(base: str, timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/login/", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not come up")


def sign_in(base: str) -> dict[str, str]:
    """Cookies of a signed-in bench agent, through the real login form (CSRF and all)."""
    import httpx

    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        page = client.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the login page"
        response = client.post(
            "/login/",
            data={"username": BENCH_AGENT, "password": BENCH_PASSWORD, "csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": base + "/login/"},
        )
        assert response.status_code in (302, 303), f"login failed: {response.status_code}"
        return dict(client.cookies.items())


def run_wrk(url: str, cookies: dict[str, str], duration: int, connections: int, threads: int) -> dict:  # type: ignore[type-arg]
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        "-H",
        f"Cookie: {cookie}",
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    report = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    seconds = report["duration_us"] / 1e6
    lat = report["latency_us"]
    return {
        "url": url,
        "connections": connections,
        "duration_s": round(seconds, 1),
        "requests": report["requests"],
        "requests_per_s": round(report["requests"] / seconds, 1),
        "errors": report["errors"],
        "latency_ms": {k: round(v / 1000, 2) for k, v in lat.items()},
    }


def main(argv: list[str] | None = None) -> dict:  # type: ignore[type-arg]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per URL (bounded)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="granian blocking threads per worker")
    parser.add_argument(
        "--settings",
        default="opiekun.config.settings.dev",
        help="Django settings module of the server (an experiment's own module on PYTHONPATH)",
    )
    parser.add_argument(
        "--paths",
        default="/,/?view=open,/healthz",
        help="comma-separated URLs to load (the first is the headline figure)",
    )
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(args.data_dir, port, args.workers, args.threads, args.settings)
    results = []
    try:
        wait_ready(base)
        cookies = sign_in(base)
        import httpx

        for path in args.paths.split(","):
            check = httpx.get(base + path, cookies=cookies, timeout=30)
            is_inbox = path.startswith("/") and not path.startswith(("/healthz", "/api"))
            if is_inbox:
                assert check.status_code == 200 and 'id="conversation-list"' in check.text, (
                    f"{path} did not answer the inbox page: {check.status_code}"
                )
            run_wrk(base + path, cookies, 3, args.connections, args.wrk_threads)  # warm-up
            result = run_wrk(base + path, cookies, args.duration, args.connections, args.wrk_threads)
            result["status_checked"] = check.status_code
            result["bytes"] = len(check.content)
            results.append(result)
            print(
                f"  {path:<24} {result['requests_per_s']:>8.1f} req/s  p50 {result['latency_ms']['p50']} ms  "
                f"p99 {result['latency_ms']['p99']} ms",
                file=sys.stderr,
                flush=True,
            )
    finally:
        stop_server(proc)
    headline = results[0] if results else {}
    out = {
        "benchmark": "inbox_http",
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "server": f"granian --interface wsgi --workers {args.workers} --blocking-threads {args.threads}",
        "settings": args.settings,
        "load_generator": f"wrk -t{args.wrk_threads} -c{args.connections} (same machine)",
        "results": results,
        "target": ">= 500 requests/s for the inbox page",
        "meets_target": bool(headline)
        and headline["requests_per_s"] >= 500
        and not headline["errors"]["status"],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    emit(out)
    return out


if __name__ == "__main__":
    main()
