"""`AlpacaStandIn`: a local stand-in for Alpaca's trading API, for tests (no network here).

It answers with the request and response shapes Alpaca documents (``/v2/orders`` POST, GET,
GET ``:by_client_order_id``, PATCH, DELETE; ``/v2/positions``; ``/v2/account``;
``/v2/account/activities/FILL``; the ``trade_updates`` websocket: auth, listen, events), checks
the ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers, sends ``X-Ratelimit-Limit``,
``-Remaining`` and ``-Reset`` on every answer and a 429 past its limit, and answers 403
(insufficient buying power) and 422 (invalid order) as Alpaca does. A test injects the rest:
`AlpacaStandIn.fail_next` (any status, body and headers, processed or not),
`AlpacaStandIn.drop_next` (the request is processed — the order IS placed — and never
answered: the client times out), fills (`AlpacaStandIn.fill`), statuses
(`AlpacaStandIn.set_status`) and raw stream events (`AlpacaStandIn.push_event`).

Two servers on free ports of 127.0.0.1, each in a thread of the test's process (stdlib
``ThreadingHTTPServer`` and `websockets`' threaded server); leaving the ``with`` block stops
both and every connection thread.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

__all__ = ["AlpacaStandIn", "StandInRequest"]

_OPEN = (
    "new",
    "accepted",
    "pending_new",
    "accepted_for_bidding",
    "partially_filled",
    "done_for_day",
    "held",
    "pending_cancel",
    "pending_replace",
    "stopped",
    "calculated",
    "suspended",
)
_TYPES = ("market", "limit", "stop", "stop_limit")
_TIFS = ("day", "gtc", "opg", "cls", "ioc", "fok")
_HANG_UP = b""  # put on a connection's queue: close it


class _Quiet(logging.Filter):
    # the server logs frames at DEBUG (the client's auth message with its secret among them)
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_ws_log = logging.getLogger("bifrost.testing.alpaca")
_ws_log.addFilter(_Quiet())


def _now() -> str:
    return pd.Timestamp.now(tz="UTC").isoformat().replace("+00:00", "Z")


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


@dataclass(frozen=True, slots=True, kw_only=True)
class StandInRequest:
    """One request the stand-in received (what a test may assert on: never the secret)."""

    method: str
    path: str
    query: Mapping[str, str]
    body: Mapping[str, Any] | None
    status: int


@dataclass(slots=True, kw_only=True)
class _Injected:
    status: int
    body: Any
    headers: Mapping[str, str]
    process: bool
    method: str | None
    path: str | None
    drop: bool = False


@dataclass(slots=True)
class _State:
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> order object (Alpaca's shape)
    by_client: dict[str, str] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)
    cost: dict[str, Decimal] = field(default_factory=dict)  # symbol -> cost basis
    prices: dict[str, Decimal] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)


class AlpacaStandIn:
    """Alpaca's trading API and ``trade_updates`` stream on 127.0.0.1, for tests.

    Parameters
    ----------
    key_id, secret_key
        The keys it accepts (anything else: 401, and ``unauthorized`` on the stream).
    cash
        The account's cash (buying power = cash: a cash account).
    rate_limit
        Requests per rolling minute before it answers 429 (Alpaca: 200).
    initial_status
        The status a new order gets (``new``; ``accepted`` outside market hours).

    Examples
    --------
    >>> from bifrost.execution._alpaca import AlpacaBroker
    >>> with AlpacaStandIn() as alpaca, AlpacaBroker(
    ...     key_id=alpaca.key_id, secret_key=alpaca.secret_key, base_url=alpaca.base_url, stream_url=alpaca.stream_url
    ... ) as broker:
    ...     broker.account("main").cash, broker.positions("main")
    (Decimal('100000'), {})
    """

    def __init__(
        self,
        *,
        key_id: str = "PKSTANDIN0000000001",
        secret_key: str = "standin-secret-0123456789abcdef",
        cash: Decimal = Decimal(100_000),
        rate_limit: int = 200,
        initial_status: str = "new",
    ) -> None:
        self.key_id = key_id
        self.secret_key = secret_key
        self.account_id = str(uuid.UUID(int=7))
        self.cash = Decimal(cash)
        self.rate_limit = rate_limit
        self.initial_status = initial_status
        self.requests: list[StandInRequest] = []
        self.events: list[dict[str, Any]] = []  # every trade_updates event sent (its data), oldest first
        self._state = _State()
        self._lock = threading.RLock()
        self._injected: list[_Injected] = []
        self._sent: list[float] = []
        self._stopping = threading.Event()
        self._listeners: list[queue.SimpleQueue[bytes]] = []
        self._listening = threading.Condition(self._lock)
        self.listens = 0  # how many times a client started listening (a reconnect counts again)
        self._http: ThreadingHTTPServer | None = None
        self._ws: Any = None
        self._threads: list[threading.Thread] = []
        self.base_url = ""
        self.stream_url = ""

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> AlpacaStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start both servers on free ports (``base_url``, ``stream_url`` then say where)."""
        from websockets.sync.server import serve

        handler = type("Handler", (_Handler,), {"standin": self})
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._ws = serve(self._stream, "127.0.0.1", 0, logger=_ws_log)
        self.stream_url = f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}/stream"
        for name, target in (
            ("alpaca-standin-http", functools.partial(self._http.serve_forever, poll_interval=0.05)),
            ("alpaca-standin-ws", self._ws.serve_forever),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop both servers, release dropped requests and end every connection thread."""
        self._stopping.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._ws is not None:
            self._ws.shutdown()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    # ------------------------------------------------------------ injection

    def fail_next(
        self,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        process: bool = False,
    ) -> None:
        """Answer the next request (matching ``method``/``path`` when given) with ``status``.

        ``process=True`` handles the request first (a 5xx after the order was placed);
        otherwise nothing changes. ``body`` defaults to ``{"code": status*100000, "message": ...}``.
        """
        if body is None:
            body = {"code": status * 100000, "message": f"injected HTTP {status}"}
        with self._lock:
            self._injected.append(
                _Injected(
                    status=status, body=body, headers=dict(headers or {}), process=process, method=method, path=path
                )
            )

    def drop_next(self, *, method: str | None = "POST", path: str | None = "/v2/orders") -> None:
        """Process the next matching request (the order IS placed) and never answer it."""
        with self._lock:
            self._injected.append(
                _Injected(status=0, body=None, headers={}, process=True, method=method, path=path, drop=True)
            )

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Set the price buying power is checked against for ``symbol``'s market orders."""
        with self._lock:
            self._state.prices[symbol] = Decimal(price)

    def order(self, client_order_id: str) -> dict[str, Any]:
        """Return a copy of the stand-in's order object for ``client_order_id``."""
        with self._lock:
            return dict(self._state.orders[self._state.by_client[client_order_id]])

    @property
    def orders(self) -> list[dict[str, Any]]:
        """Every order the stand-in holds (copies), oldest first."""
        with self._lock:
            return [dict(o) for o in self._state.orders.values()]

    def fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> None:
        """Execute ``qty`` of the order at ``price``: position, cash, a FILL activity and a stream event."""
        qty, price = Decimal(qty), Decimal(price)
        with self._lock:
            order = self._state.orders[self._live(client_order_id)]
            filled = Decimal(order["filled_qty"]) + qty
            total = Decimal(order["qty"])
            if qty <= 0 or filled > total:
                raise ValueError(
                    f"stand-in: cannot fill {qty} of {client_order_id} ({order['filled_qty']}/{total} filled)"
                )
            old_avg = Decimal(order["filled_avg_price"] or 0)
            avg = (old_avg * (filled - qty) + price * qty) / filled
            now = _now()
            order.update(
                filled_qty=_num(filled),
                filled_avg_price=_num(avg.quantize(Decimal("0.0001")).normalize()),
                status="filled" if filled == total else "partially_filled",
                updated_at=now,
                filled_at=now if filled == total else None,
            )
            sign = Decimal(1) if order["side"] == "buy" else Decimal(-1)
            symbol = order["symbol"]
            position = self._state.positions.get(symbol, Decimal(0)) + sign * qty
            self._state.positions[symbol] = position
            self._state.cost[symbol] = self._state.cost.get(symbol, Decimal(0)) + sign * qty * price
            self._state.prices[symbol] = price
            self.cash -= sign * qty * price
            execution = str(uuid.uuid4())
            stamp = pd.Timestamp(now).strftime("%Y%m%d%H%M%S%f")[:17]
            self._state.activities.append(
                {
                    "id": f"{stamp}::{execution}",
                    "activity_type": "FILL",
                    "transaction_time": now,
                    "type": "fill" if filled == total else "partial_fill",
                    "price": _num(price),
                    "qty": _num(qty),
                    "side": order["side"],
                    "symbol": symbol,
                    "leaves_qty": _num(total - filled),
                    "order_id": order["id"],
                    "cum_qty": _num(filled),
                    "order_status": order["status"],
                }
            )
            self._broadcast(
                {
                    "event": "fill" if filled == total else "partial_fill",
                    "execution_id": execution,
                    "order": dict(order),
                    "timestamp": now,
                    "price": _num(price),
                    "qty": _num(qty),
                    "position_qty": _num(position),
                }
            )

    def set_status(self, client_order_id: str, status: str, *, event: str | None = None) -> None:
        """Give the order ``status`` (any string, mapped or not); stream ``event`` when given."""
        with self._lock:
            order = self._state.orders[self._live(client_order_id)]
            order.update(status=status, updated_at=_now())
            if status == "canceled":
                order["canceled_at"] = order["updated_at"]
            if event is not None:
                self._broadcast({"event": event, "order": dict(order), "timestamp": order["updated_at"]})

    def push_event(self, client_order_id: str, event: str, fields: Mapping[str, Any] | None = None) -> None:
        """Send one raw ``trade_updates`` event for the order (with ``fields`` added to its data)."""
        with self._lock:
            order = self._state.orders[self._live(client_order_id)]
            self._broadcast({"event": event, "order": dict(order), "timestamp": _now(), **(fields or {})})

    def wait_listening(self, count: int = 1, timeout_s: float = 5.0) -> bool:
        """Wait until ``count`` listens to ``trade_updates`` happened (reconnects count) and one is live."""
        with self._listening:
            return self._listening.wait_for(lambda: self.listens >= count and bool(self._listeners), timeout_s)

    def hang_up(self) -> None:
        """Close every stream connection (as Alpaca does on a deploy): clients must reconnect."""
        with self._lock:
            for listener in self._listeners:
                listener.put(_HANG_UP)
            self._listeners.clear()

    # ------------------------------------------------------------ the stream

    def _broadcast(self, data: Mapping[str, Any]) -> None:
        self.events.append(dict(data))
        frame = json.dumps({"stream": "trade_updates", "data": data}).encode()
        for listener in self._listeners:
            listener.put(frame)

    def _stream(self, ws: Any) -> None:
        inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        try:
            message = json.loads(ws.recv(timeout=10))
            data = message.get("data") or {}
            key = message.get("key", data.get("key_id"))
            secret = message.get("secret", data.get("secret_key"))
            ok = message.get("action") in ("auth", "authenticate") and key == self.key_id and secret == self.secret_key
            ws.send(
                json.dumps(
                    {
                        "stream": "authorization",
                        "data": {"status": "authorized" if ok else "unauthorized", "action": "authenticate"},
                    }
                ).encode()
            )
            if not ok:
                return
            message = json.loads(ws.recv(timeout=10))
            streams = [s for s in (message.get("data") or {}).get("streams", []) if s == "trade_updates"]
            ws.send(json.dumps({"stream": "listening", "data": {"streams": streams}}).encode())
            with self._listening:
                self._listeners.append(inbox)
                self.listens += 1
                self._listening.notify_all()
            while not self._stopping.is_set():
                try:
                    frame = inbox.get(timeout=0.05)
                except queue.Empty:
                    continue
                if frame == _HANG_UP:
                    ws.close()
                    return
                ws.send(frame)
        except Exception:  # the client went away
            return
        finally:
            with self._lock:
                if inbox in self._listeners:
                    self._listeners.remove(inbox)

    # ------------------------------------------------------------ the API

    def _live(self, client_order_id: str) -> str:
        order_id = self._state.by_client[client_order_id]
        while self._state.orders[order_id]["status"] == "replaced":
            order_id = self._state.orders[order_id]["replaced_by"]
        return order_id

    def _rate_headers(self) -> dict[str, str]:
        now = time.time()
        self._sent = [t for t in self._sent if t > now - 60]
        reset = int((self._sent[0] if self._sent else now) + 60)
        return {
            "X-Ratelimit-Limit": str(self.rate_limit),
            "X-Ratelimit-Remaining": str(max(self.rate_limit - len(self._sent), 0)),
            "X-Ratelimit-Reset": str(reset),
        }

    def _take_injected(self, method: str, path: str) -> _Injected | None:
        for i, inj in enumerate(self._injected):
            if (inj.method is None or inj.method == method) and (inj.path is None or inj.path == path):
                return self._injected.pop(i)
        return None

    def handle(
        self, method: str, path: str, query: Mapping[str, str], body: Any, headers: Mapping[str, str]
    ) -> tuple[int, Any, dict[str, str]] | None:
        """Answer one request: (status, JSON body or None, headers), or None to drop it."""
        with self._lock:
            if headers.get("APCA-API-KEY-ID") != self.key_id or headers.get("APCA-API-SECRET-KEY") != self.secret_key:
                return self._record(
                    method, path, query, body, 401, {"code": 40110000, "message": "request is not authorized"}, {}
                )
            now = time.time()
            self._sent = [t for t in self._sent if t > now - 60]
            if len(self._sent) >= self.rate_limit:
                return self._record(
                    method,
                    path,
                    query,
                    body,
                    429,
                    {"code": 42910000, "message": "rate limit exceeded"},
                    self._rate_headers(),
                )
            self._sent.append(now)
            rate = self._rate_headers()
            injected = self._take_injected(method, path)
            if injected is not None and not injected.process:
                return self._record(
                    method, path, query, body, injected.status, injected.body, {**rate, **injected.headers}
                )
            status, answer = self._route(method, path, query, body)
            if injected is not None and injected.drop:
                self._record(method, path, query, body, 0, None, {})
                return None
            if injected is not None:
                return self._record(
                    method, path, query, body, injected.status, injected.body, {**rate, **injected.headers}
                )
            return self._record(method, path, query, body, status, answer, rate)

    def _record(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: Any,
        status: int,
        answer: Any,
        headers: dict[str, str],
    ) -> tuple[int, Any, dict[str, str]]:
        self.requests.append(
            StandInRequest(
                method=method,
                path=path,
                query=dict(query),
                body=body if isinstance(body, dict) else None,
                status=status,
            )
        )
        return status, answer, headers

    def _route(self, method: str, path: str, query: Mapping[str, str], body: Any) -> tuple[int, Any]:
        state = self._state
        if path == "/v2/orders" and method == "POST":
            return self._post_order(body if isinstance(body, dict) else {})
        if path == "/v2/orders" and method == "GET":
            wanted = query.get("status", "open")
            rows = [o for o in state.orders.values() if wanted == "all" or (o["status"] in _OPEN) == (wanted == "open")]
            if "after" in query:
                after = pd.Timestamp(query["after"])
                rows = [o for o in rows if pd.Timestamp(o["submitted_at"]) > after]
            if query.get("direction", "desc") == "desc":
                rows.reverse()
            return 200, [dict(o) for o in rows[: int(query.get("limit", 50))]]
        if path == "/v2/orders:by_client_order_id" and method == "GET":
            order_id = state.by_client.get(query.get("client_order_id", ""))
            return (
                (200, dict(state.orders[order_id]))
                if order_id
                else (404, {"code": 40410000, "message": "order not found"})
            )
        if path.startswith("/v2/orders/"):
            order_id = path.rsplit("/", 1)[1]
            order = state.orders.get(order_id)
            if order is None:
                return 404, {"code": 40410000, "message": "order not found"}
            if method == "GET":
                return 200, dict(order)
            if method == "DELETE":
                if order["status"] not in _OPEN or order["status"] == "pending_cancel":
                    return 422, {"code": 42210000, "message": f"order is not cancelable (status {order['status']})"}
                stamp = _now()
                order.update(status="canceled", canceled_at=stamp, cancel_requested_at=stamp, updated_at=stamp)
                self._broadcast({"event": "canceled", "order": dict(order), "timestamp": stamp})
                return 204, None
            if method == "PATCH":
                return self._patch_order(order, body if isinstance(body, dict) else {})
        if path == "/v2/positions" and method == "GET":
            return 200, [self._position(s, q) for s, q in state.positions.items() if q != 0]
        if path == "/v2/account" and method == "GET":
            return 200, self._account()
        if path == "/v2/account/activities/FILL" and method == "GET":
            rows = list(state.activities)
            if "after" in query:
                after = pd.Timestamp(query["after"])
                rows = [r for r in rows if pd.Timestamp(r["transaction_time"]) > after]
            if query.get("direction", "desc") == "desc":
                rows.reverse()
            if "page_token" in query:
                ids = [r["id"] for r in rows]
                rows = rows[ids.index(query["page_token"]) + 1 :] if query["page_token"] in ids else []
            return 200, rows[: int(query.get("page_size", 100))]
        return 404, {"code": 40410000, "message": f"endpoint not found: {method} {path}"}

    def _post_order(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        state = self._state

        def invalid(message: str) -> tuple[int, Any]:
            return 422, {"code": 40010001, "message": message}

        try:
            qty = Decimal(str(body.get("qty")))
        except InvalidOperation:
            return invalid("qty is required and must be a number")
        if not qty.is_finite() or qty <= 0:
            return invalid("qty must be > 0")
        kind, tif, side = body.get("type"), body.get("time_in_force"), body.get("side")
        if kind not in _TYPES:
            return invalid(f"invalid order type: {kind}")
        if tif not in _TIFS:
            return invalid(f"invalid time_in_force: {tif}")
        if side not in ("buy", "sell"):
            return invalid(f"invalid side: {side}")
        if kind in ("limit", "stop_limit") and body.get("limit_price") is None:
            return invalid("limit_price is required for limit orders")
        if kind in ("stop", "stop_limit") and body.get("stop_price") is None:
            return invalid("stop_price is required for stop orders")
        coid = str(body.get("client_order_id") or uuid.uuid4())
        if coid in state.by_client:
            return invalid("client_order_id must be unique")
        price = (
            Decimal(str(body["limit_price"]))
            if body.get("limit_price") is not None
            else state.prices.get(str(body.get("symbol")))
        )
        if side == "buy" and price is not None and qty * price > self.cash:
            return 403, {"code": 40310000, "message": "insufficient buying power"}
        if side == "sell" and qty > state.positions.get(str(body.get("symbol")), Decimal(0)):
            return 403, {"code": 40310000, "message": f"insufficient qty available for order (requested: {_num(qty)})"}
        order = self._new_order(coid, body, qty, kind, tif, side)
        self._broadcast({"event": order["status"], "order": dict(order), "timestamp": order["created_at"]})
        return 200, dict(order)

    def _new_order(
        self,
        coid: str,
        body: Mapping[str, Any],
        qty: Decimal,
        kind: Any,
        tif: Any,
        side: Any,
        *,
        filled: str = "0",
        avg: str | None = None,
        replaces: str | None = None,
    ) -> dict[str, Any]:
        now = _now()
        order = {
            "id": str(uuid.uuid4()),
            "client_order_id": coid,
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "filled_at": None,
            "expired_at": None,
            "cancel_requested_at": None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": replaces,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, str(body.get("symbol")))),
            "symbol": str(body.get("symbol")),
            "asset_class": "us_equity",
            "notional": None,
            "qty": _num(qty),
            "filled_qty": filled,
            "filled_avg_price": avg,
            "order_class": "",
            "order_type": kind,
            "type": kind,
            "side": side,
            "time_in_force": tif,
            "limit_price": body.get("limit_price"),
            "stop_price": body.get("stop_price"),
            "status": self.initial_status,
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
        }
        self._state.orders[order["id"]] = order
        self._state.by_client[coid] = order["id"]
        return order

    def _patch_order(self, old: dict[str, Any], body: Mapping[str, Any]) -> tuple[int, Any]:
        if old["status"] not in _OPEN or old["status"] in ("pending_cancel", "pending_replace"):
            return 422, {"code": 42210000, "message": f"order is not replaceable (status {old['status']})"}
        coid = str(body.get("client_order_id") or uuid.uuid4())
        if coid in self._state.by_client:
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        qty = Decimal(str(body.get("qty") or old["qty"]))
        if qty < Decimal(old["filled_qty"]):
            return 422, {"code": 40010001, "message": "qty must not be less than the filled quantity"}
        merged = {
            **old,
            "limit_price": body.get("limit_price", old["limit_price"]),
            "stop_price": body.get("stop_price", old["stop_price"]),
        }
        new = self._new_order(
            coid,
            merged,
            qty,
            old["type"],
            old["time_in_force"],
            old["side"],
            filled=old["filled_qty"],
            avg=old["filled_avg_price"],
            replaces=old["id"],
        )
        stamp = new["created_at"]
        old.update(status="replaced", replaced_by=new["id"], replaced_at=stamp, updated_at=stamp)
        self._broadcast({"event": "replaced", "order": dict(old), "timestamp": stamp})
        self._broadcast({"event": "new", "order": dict(new), "timestamp": stamp})
        return 200, dict(new)

    def _position(self, symbol: str, qty: Decimal) -> dict[str, Any]:
        price = self._state.prices.get(symbol, Decimal(0))
        cost = self._state.cost.get(symbol, Decimal(0))
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "exchange": "NYSE",
            "asset_class": "us_equity",
            "avg_entry_price": _num((cost / qty).quantize(Decimal("0.0001"))),
            "qty": _num(qty),
            "qty_available": _num(qty),
            "side": "long" if qty > 0 else "short",
            "market_value": _num(qty * price),
            "cost_basis": _num(cost),
            "current_price": _num(price),
        }

    def _account(self) -> dict[str, Any]:
        value = sum((q * self._state.prices.get(s, Decimal(0)) for s, q in self._state.positions.items()), Decimal(0))
        return {
            "id": self.account_id,
            "account_number": "PA0STANDIN",
            "status": "ACTIVE",
            "currency": "USD",
            "cash": _num(self.cash),
            "buying_power": _num(self.cash),
            "regt_buying_power": _num(self.cash),
            "equity": _num(self.cash + value),
            "portfolio_value": _num(self.cash + value),
            "long_market_value": _num(value),
            "pattern_day_trader": False,
            "trading_blocked": False,
            "account_blocked": False,
            "shorting_enabled": False,
            "multiplier": "1",
        }


class _Handler(BaseHTTPRequestHandler):
    standin: AlpacaStandIn
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's name
        return  # the stdlib prints every request to stderr

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        answer = self.standin.handle(self.command, parts.path, query, body, dict(self.headers.items()))
        if answer is None:  # dropped: hold the connection until the client gives up or the stand-in stops
            self.standin._stopping.wait(60)
            self.close_connection = True
            return
        status, payload, headers = answer
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve
