"""`opiekun run`: serve HTTP + websockets (uvicorn) and run the task worker with its scheduler.

Embedded default (no REDIS_URL): everything in ONE process, so the in-memory channel layer reaches
every socket and work done by the worker shows up live in the desk. With REDIS_URL set, web and
worker may run as separate processes (`--web-only`, `--worker-only`) sharing Redis. Ctrl-C stops all.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import autodiscover_modules

from opiekun.core import background
from opiekun.core.startup import run_hooks

log = logging.getLogger("opiekun.run")


def start_worker(workers: int = 2, *, scheduler: bool = True):  # type: ignore[no-untyped-def]
    """Start the Huey consumer's worker and scheduler threads in this process; returns the consumer."""
    from huey.contrib.djhuey import HUEY

    from opiekun.core.heartbeat import forget
    from opiekun.core.tasks import worker_heartbeat

    autodiscover_modules("tasks")
    consumer = HUEY.create_consumer(
        workers=workers,
        worker_type="thread",
        # Periodic tasks are enqueued by every consumer that runs a scheduler: one per installation.
        periodic=scheduler,
        check_worker_health=True,
        scheduler_interval=1,
        shutdown_timeout=8,
        # SqliteHuey is polled, and huey's default back-off lets an idle worker sleep up to 10 s: a reply
        # queued in the desk would wait that long to be sent (and to show "sent" live). 1 s is cheap.
        max_delay=1.0,
    )
    consumer._set_signal_handlers = lambda: None  # the server owns SIGINT/SIGTERM
    # A beat left by an earlier run must not vouch for this one; the first beat is a real task, so
    # /healthz says "ok" only once a worker thread has actually picked work off the queue.
    forget()
    consumer.start()
    worker_heartbeat()
    return consumer


FULL_COLLECTION_AFTER = 100  # collections of the middle generation between full ones (Python: 10)


def settle_the_heap() -> None:
    """Load the application, then take everything alive so far out of the garbage collector's view.

    A full collection walks every tracked object and holds the GIL while it does; with Django, every
    app and a thousand chat sockets that was ~350,000 objects and 250 ms in which no socket moved
    (bench/chat_sockets.py: a visitor's line waited for it). The modules, classes and functions
    loaded at start live as long as the process; `gc.freeze()` moves them to a generation that is
    never walked (they are still freed by reference counting if they go), and a full collection of
    what remains took 80 to 200 ms. Those came every ~25 s under the chat bench's load, each collecting
    fewer than 120 objects: a full collection now waits for 100 collections of the middle generation
    instead of 10 (minutes apart under that load), which keeps that trickle of garbage a little longer.
    Call it once, before serving.
    """
    import_module("opiekun.config.asgi")  # what uvicorn would import at its start
    gc.collect()
    gc.freeze()
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)


class _Server(uvicorn.Server):
    """uvicorn, minus its habit of re-raising the captured Ctrl-C after shutdown.

    uvicorn restores the previous handlers and raises the signal again once it has stopped; for us
    that is a KeyboardInterrupt traceback and exit code -2 before the worker had a chance to stop.
    Here the first SIGINT/SIGTERM asks for a graceful stop, a second one forces it, and the command
    then stops the worker and exits 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class Command(BaseCommand):
    help = "Run Opiekun: web + websockets + task worker + scheduler (one process by default)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--host", default=settings.OPIEKUN_HOST)
        parser.add_argument("--port", type=int, default=settings.OPIEKUN_PORT)
        parser.add_argument("--workers", type=int, default=2, help="task worker threads")
        parser.add_argument("--web-only", action="store_true", help="no task worker (needs REDIS_URL)")
        parser.add_argument(
            "--worker-only", action="store_true", help="only the task worker (needs REDIS_URL)"
        )
        parser.add_argument(
            "--no-scheduler",
            action="store_true",
            help="with --worker-only: run tasks but leave periodic ones to another worker (scale-out)",
        )

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        if (opts["web_only"] or opts["worker_only"]) and not settings.REDIS_URL:
            raise CommandError(
                "--web-only/--worker-only need REDIS_URL: without Redis the in-memory channel "
                "layer only reaches sockets in the same process."
            )
        # WhiteNoise warns on every start when STATIC_ROOT is missing; files are served from the package.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        if opts["worker_only"]:
            return self._worker_only(opts["workers"], scheduler=not opts["no_scheduler"])
        run_hooks()
        consumer = None if opts["web_only"] else start_worker(opts["workers"])
        services = [] if opts["web_only"] else background.start_all()
        try:
            asyncio.run(self._serve(opts["host"], opts["port"]))
        finally:
            background.stop_all(services)
            if consumer is not None:
                consumer.stop(graceful=True)
            self.stdout.write("Opiekun stopped.")

    async def _serve(self, host: str, port: int) -> None:
        from opiekun.core.serving import register_loop

        register_loop(asyncio.get_running_loop())
        config = uvicorn.Config(
            "opiekun.config.asgi:application",
            host=host,
            port=port,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
            # Chat and desk frames are a few hundred bytes: compressing each cost the event loop more
            # CPU than it saved on loopback or a LAN (bench/chat_sockets.py), and every socket's zlib
            # state is memory held for as long as it stays connected.
            ws_per_message_deflate=False,
            proxy_headers=True,
            access_log=False,
        )
        server = _Server(config)
        settle_the_heap()
        self.stdout.write(f"Opiekun is running at http://{host}:{port}/  (Ctrl-C stops it)")
        self.stdout.flush()
        try:
            await server.serve()
        finally:
            register_loop(None)

    def _worker_only(self, workers: int, *, scheduler: bool = True) -> None:
        run_hooks()
        consumer = start_worker(workers, scheduler=scheduler)
        services = background.start_all()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write("Opiekun worker running (Ctrl-C stops it)")
        while not stop.wait(1):
            pass
        background.stop_all(services)
        consumer.stop(graceful=True)
        self.stdout.write("Opiekun worker stopped.")
