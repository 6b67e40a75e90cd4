"""Loopback stand-ins for the platforms' APIs, answering with their real shapes.

Each is a small threaded HTTP server on 127.0.0.1 (a free port) serving what the connector's client
reads: WooCommerce's `GET /wp-json/wc/v3/orders` (modified_after, orderby=modified, page/per_page,
X-WP-Total and X-WP-TotalPages, Basic auth), Shopify's Admin GraphQL `orders` connection (first/after
cursors, pageInfo, extensions.cost.throttleStatus, THROTTLED errors) and BaseLinker's connector.php
(X-BLToken; getOrderStatusList, getOrders with id_from/order_id, getJournalList). `fail` queues answers
for the next requests (429 with Retry-After, 500, 503 ...). Used by the tests and bench/commerce_backfill.py.
"""

from __future__ import annotations

import base64
import bisect
import json
import threading
from collections import deque
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class StandIn:
    def __init__(self) -> None:
        self.failures: deque[tuple[int, dict[str, str]]] = deque()
        self.requests: list[tuple[str, str]] = []  # (method, path?query)
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                stand_in._serve(self, "GET")

            def do_POST(self) -> None:
                stand_in._serve(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, status: int, times: int = 1, **headers: str) -> None:
        for _ in range(times):
            self.failures.append((status, {k.replace("_", "-"): v for k, v in headers.items()}))

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((method, handler.path))
            failure = self.failures.popleft() if self.failures else None
        if failure is not None:
            status, headers = failure
            self._send(handler, status, {"code": "stand_in_failure", "message": "planned failure"}, headers)
            return
        try:
            status, data, headers = self.answer(method, handler.path, dict(handler.headers.items()), body)
        except Exception as exc:  # a bug in the stand-in shows as a 500, like a real server's
            status, data, headers = 500, {"error": repr(exc)}, {}
        self._send(handler, status, data, headers)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, data: Any, headers: dict[str, str]) -> None:
        raw = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(raw)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(raw)

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError


class WooCommerceStandIn(StandIn):
    """`orders`: WooCommerce order objects sorted by date_modified_gmt (a list, or any lazy Sequence)."""

    def __init__(
        self, orders: Sequence[dict[str, Any]], key: str = "ck_test", secret: str = "cs_test"
    ) -> None:
        super().__init__()
        self.orders = orders
        self.auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(path)
        if url.path != "/wp-json/wc/v3/orders" or method != "GET":
            return (
                404,
                {
                    "code": "rest_no_route",
                    "message": "No route was found matching the URL and request method.",
                },
                {},
            )
        if headers.get("Authorization") != self.auth:
            return (
                401,
                {
                    "code": "woocommerce_rest_cannot_view",
                    "message": "Sorry, you cannot list resources.",
                    "data": {"status": 401},
                },
                {},
            )
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        per_page = min(100, int(q.get("per_page", 10)))
        page = int(q.get("page", 1))
        stamps = _Stamps(self.orders)
        start = bisect.bisect_right(stamps, q.get("modified_after", ""))  # strictly after, as WooCommerce
        total = len(self.orders) - start
        first = start + (page - 1) * per_page
        items = [self.orders[i] for i in range(first, min(first + per_page, len(self.orders)))]
        pages = max(1, -(-total // per_page))
        return 200, items, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}


class _Stamps(Sequence[str]):
    def __init__(self, orders: Sequence[dict[str, Any]]) -> None:
        self.orders = orders

    def __len__(self) -> int:
        return len(self.orders)

    def __getitem__(self, i: Any) -> Any:
        return str(self.orders[i]["date_modified_gmt"])


class ShopifyStandIn(StandIn):
    """`nodes`: GraphQL order nodes sorted by updatedAt; a cost bucket that refills at `restore` points/s."""

    def __init__(
        self, nodes: Sequence[dict[str, Any]], token: str = "shpat_test", bucket: float = 2000.0
    ) -> None:
        super().__init__()
        self.nodes = nodes
        self.token = token
        self.available = bucket
        self.bucket = bucket
        self.throttle_next = 0

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if not urlsplit(path).path.endswith("/graphql.json") or method != "POST":
            return 404, {"errors": "Not Found"}, {}
        if headers.get("X-Shopify-Access-Token") != self.token:
            return (
                401,
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"},
                {},
            )
        request = json.loads(body)
        variables = request.get("variables") or {}
        first = min(250, int(variables.get("first") or 50))
        cost = 2 + first * 0.5
        if self.throttle_next:
            self.throttle_next -= 1
            return (
                200,
                {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {
                        "cost": {
                            "requestedQueryCost": cost,
                            "actualQueryCost": None,
                            "throttleStatus": {
                                "maximumAvailable": self.bucket,
                                "currentlyAvailable": 10,
                                "restoreRate": 100.0,
                            },
                        }
                    },
                },
                {},
            )
        since = ""
        query = variables.get("query") or ""
        if "updated_at:>=" in query:
            since = query.split("updated_at:>=", 1)[1].strip("'\"")
        stamps = [str(n["updatedAt"]) for n in self.nodes]
        start = bisect.bisect_left(stamps, since) if since else 0
        after = variables.get("after")
        if after:
            start = int(base64.b64decode(after).decode().split(":")[1]) + 1
        chunk = list(range(start, min(start + first, len(self.nodes))))
        end_cursor = base64.b64encode(f"cursor:{chunk[-1]}".encode()).decode() if chunk else None
        return (
            200,
            {
                "data": {
                    "orders": {
                        "pageInfo": {
                            "hasNextPage": bool(chunk) and chunk[-1] + 1 < len(self.nodes),
                            "endCursor": end_cursor,
                        },
                        "nodes": [self.nodes[i] for i in chunk],
                    }
                },
                "extensions": {
                    "cost": {
                        "requestedQueryCost": cost,
                        "actualQueryCost": cost,
                        "throttleStatus": {
                            "maximumAvailable": self.bucket,
                            "currentlyAvailable": self.available - cost,
                            "restoreRate": 100.0,
                        },
                    }
                },
            },
            {},
        )


class BaseLinkerStandIn(StandIn):
    """`orders`: getOrders objects by order_id; `journal`: getJournalList logs; one status list."""

    STATUSES = [
        {
            "id": 6624,
            "name": "Nowe zamówienia",
            "name_for_customer": "Zamówienie przyjęte",
            "color": "#5cb85c",
        },
        {"id": 6625, "name": "Wysłane", "name_for_customer": "Wysłane", "color": "#428bca"},
        {"id": 6626, "name": "Anulowane", "name_for_customer": "Anulowane", "color": "#d9534f"},
    ]

    def __init__(self, orders: dict[int, dict[str, Any]], token: str = "bl-test-token") -> None:
        super().__init__()
        self.orders = orders
        self.journal: list[dict[str, Any]] = []
        self.token = token

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if method != "POST" or urlsplit(path).path != "/connector.php":
            return 404, {"status": "ERROR", "error_code": "ERROR_METHOD", "error_message": "Not found"}, {}
        if headers.get("X-BLToken") != self.token:
            return (
                200,
                {"status": "ERROR", "error_code": "ERROR_BAD_TOKEN", "error_message": "Invalid user token"},
                {},
            )
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        parameters = json.loads(form.get("parameters") or "{}")
        method_name = form.get("method", "")
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(self, "_" + method_name, None)
        if handler is None:
            return (
                200,
                {"status": "ERROR", "error_code": "ERROR_UNKNOWN_METHOD", "error_message": "Unknown method"},
                {},
            )
        return 200, {"status": "SUCCESS", **handler(parameters)}, {}

    def _getOrderStatusList(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"statuses": self.STATUSES}

    def _getOrders(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("order_id"):
            found = self.orders.get(int(p["order_id"]))
            return {"orders": [found] if found else []}
        ids = sorted(i for i in self.orders if i >= int(p.get("id_from", 0)))[:100]
        return {"orders": [self.orders[i] for i in ids]}

    def _getJournalList(self, p: dict[str, Any]) -> dict[str, Any]:
        last = int(p.get("last_log_id", 0))
        return {"logs": [log for log in self.journal if log["log_id"] > last][:100]}
