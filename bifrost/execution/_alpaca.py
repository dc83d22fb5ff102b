"""`AlpacaBroker`: Alpaca's trading API (paper or live) as a `Broker`, through alpaca-py.

REST goes through alpaca-py's ``TradingClient`` (its session, its URLs, its key headers) with
``raw_data=True``: Alpaca sends quantities and prices as strings and this adapter reads them
straight into `~decimal.Decimal` (alpaca-py's models turn them into floats). Orders are sent
with their quantities and prices as strings for the same reason. One request method of the
client is replaced (``_one_request``, alpaca-py 0.44): the stock one has no timeout, sleeps a
fixed 3 s on a 429 and would *re-send a POST on a 504* — never acceptable for an order.

The order-updates stream (``trade_updates``) is read with `websockets` (alpaca-py's own
dependency) in a thread of this object: alpaca-py's ``TradingStream`` reports no moment at
which it is listening (events sent just after start are lost), takes up to 5 s to stop, and
retries a refused authentication forever. The protocol is three JSON messages (auth, listen,
updates); it is spoken here as Alpaca documents it.

Conventions, stated once:

- **Statuses.** Every Alpaca order status is mapped deliberately in `ALPACA_ORDER_STATUSES`
  (the reason for each mapping is in the table). A status bifrost cannot map without a guess
  (``held``, ``suspended``, ``pending_review``, any new one) *halts the order*: the broker's
  report raises `BrokerError` naming the status, stream events for it are withheld (the order
  is listed in `AlpacaBroker.halted`), and a person decides at Alpaca; once Alpaca reports a
  status that maps, the report (authoritative) lifts the halt and reconcile catches up.
- **Trade ids.** A fill's ``trade_id`` is ``"<alpaca order id>:<cumulative filled qty>"``: the
  stream's fill event (``order.id``, ``order.filled_qty``) and the FILL account activity
  (``order_id``, ``cum_qty``) give the same id for the same execution, so a fill seen on the
  stream and again by `AlpacaBroker.fills` is applied once. Alpaca charges no commission on
  US equities: ``commission`` is 0.
- **Replacements.** Alpaca replaces an order by a new one with a new id. Its
  ``client_order_id`` is ours plus ``~`` and 8 hex digits (``~`` is never in a bifrost
  client_order_id), so events of the replacing order are read back as events of our order,
  also after a restart. A replacing order is assumed to carry the filled quantity over
  (``filled_qty`` cumulative over the chain, as FIX's CumQty).
- **Errors.** On ``POST /v2/orders``: 403 (insufficient buying power) → ``Rejected``
  (``INSUFFICIENT_CASH``), 422 (and any other 4xx) → ``Rejected`` (``BROKER``) with Alpaca's
  message — unless the order turns out to be there already (a 422 for a duplicate
  client_order_id: its events are returned, never a second order); 429 → wait
  (``Retry-After``, else ``X-Ratelimit-Reset``) and send again, which is safe because a 429 was
  not processed; 5xx, timeout or a broken connection → `BrokerUnavailableError` (the outcome is
  unknown: resolve with ``get_order(client_order_id)``, never by sending again). On other
  calls: 401/403 and other 4xx → `BrokerError` naming the call, 5xx/timeout →
  `BrokerUnavailableError`.
- **Rate limit.** At most ``requests_per_minute`` (Alpaca: 200) requests in any 60 s; when
  ``X-Ratelimit-Remaining`` falls under a tenth of the limit the requests left are spread
  over the time to ``X-Ratelimit-Reset``.
- **Keys** are never logged or shown: the repr masks them, every message passes through
  `bifrost.config.mask_secrets` and has the keys themselves replaced by ``***``, and the
  websocket library's frame logging (which would show the auth message) is dropped.
- **What the calls return.** `submit` returns what follows ``Submitted`` (which the order
  manager writes ahead); `cancel` and `replace` return ``PendingCancel`` / ``PendingReplace``
  (the request was sent) and, when Alpaca refuses it at once, ``CancelRejected`` /
  ``ReplaceRejected``; what happens next arrives on the stream.
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

import pandas as pd

from bifrost.config import MASK, Settings, mask_secrets
from bifrost.errors import BrokerError, BrokerUnavailableError, ConfigError
from bifrost.execution._broker import BrokerAccount, BrokerFill, BrokerOrder
from bifrost.execution._order import (
    Accepted,
    Canceled,
    CancelReason,
    CancelRejected,
    Expired,
    Filled,
    Order,
    OrderEvent,
    OrderStatus,
    OrderType,
    PendingCancel,
    PendingReplace,
    Rejected,
    RejectReason,
    Replaced,
    ReplaceRejected,
    TimeInForce,
)
from bifrost.portfolio import Side

if TYPE_CHECKING:
    import requests
    from websockets.sync.client import ClientConnection

__all__ = ["ALPACA_ORDER_STATUSES", "AlpacaBroker", "AlpacaStatusRule", "HaltedOrder"]

_log = logging.getLogger("bifrost.execution.alpaca")

PAPER_URL: Final = "https://paper-api.alpaca.markets"
LIVE_URL: Final = "https://api.alpaca.markets"
PAPER_STREAM_URL: Final = "wss://paper-api.alpaca.markets/stream"
LIVE_STREAM_URL: Final = "wss://api.alpaca.markets/stream"
REPLACEMENT_SEPARATOR: Final = "~"  # never in a bifrost client_order_id ([A-Za-z0-9._:-])
_PAGE_SIZE: Final = 100  # account activities per page
_ORDERS_PAGE: Final = 500  # Alpaca's most orders per page
_MAX_REPLACE_HOPS: Final = 50

AlpacaStatusRule = Literal["working", "filled_or_working", "halt"] | OrderStatus
"""How an Alpaca status maps: an `OrderStatus`; ``"working"`` (ACCEPTED, or PARTIALLY_FILLED
once anything filled); ``"filled_or_working"`` (FILLED when all filled, else working); ``"halt"``."""

_S = OrderStatus
ALPACA_ORDER_STATUSES: Final[Mapping[str, tuple[AlpacaStatusRule, str]]] = MappingProxyType(
    {
        "new": ("working", "routed to the venue and working"),
        "accepted": ("working", "received by Alpaca, not yet routed (outside market hours): Alpaca holds it"),
        "pending_new": (
            "working",
            "routed, not yet acknowledged by the venue: Alpaca holds it; a venue reject follows as rejected",
        ),
        "accepted_for_bidding": ("working", "received by the venue and being priced (auctions): working"),
        "partially_filled": (_S.PARTIALLY_FILLED, "part filled, the rest working"),
        "filled": (_S.FILLED, "completely filled"),
        "done_for_day": ("working", "no more executions today; it resumes next session or expires (DAY): still open"),
        "canceled": (_S.CANCELED, "canceled (by request, or by Alpaca: the stream event says which)"),
        "expired": (_S.EXPIRED, "its time in force ran out"),
        "replaced": (
            _S.ACCEPTED,
            "replaced by another order: the report follows replaced_by to the order that lives on",
        ),
        "pending_cancel": (_S.PENDING_CANCEL, "a cancel is on its way"),
        "pending_replace": (_S.PENDING_REPLACE, "a replace is on its way (Alpaca refuses cancels meanwhile)"),
        "stopped": (
            "working",
            "a trade is guaranteed at a stated price but has not happened: still open, the fill follows",
        ),
        "rejected": (_S.REJECTED, "refused by Alpaca or the venue"),
        "calculated": (
            "filled_or_working",
            "done for the day (filled or done_for_day), settlement pending: FILLED when all filled, else open",
        ),
        "suspended": ("halt", "not eligible for trading: it may resume or be canceled, bifrost cannot tell which"),
        "held": (
            "halt",
            "a leg held until its parent fills: bifrost sends no bracket orders, so one of ours held is unexplained",
        ),
        "pending_review": ("halt", "under review by Alpaca: its outcome is unknown"),
    }
)
"""Every Alpaca order status → how bifrost reads it, with the reason (see the module docstring)."""

# trade_updates event → what it means for our order; statuses the report reads, events are
# what happened. "ack": Accepted, once per order; "none": no event (the state does not change
# or the change arrives as its own event); "halt": withheld, the order halted.
_EventRule = Literal[
    "ack", "fill", "canceled", "expired", "replaced", "rejected", "cancel_rejected", "replace_rejected", "none", "halt"
]
_STREAM_EVENTS: Final[Mapping[str, tuple[_EventRule, str]]] = MappingProxyType(
    {
        "new": ("ack", "routed and working"),
        "accepted": ("ack", "received by Alpaca"),
        "pending_new": ("ack", "received and routed"),
        "accepted_for_bidding": ("ack", "received by the venue"),
        "fill": ("fill", "the last execution: filled"),
        "partial_fill": ("fill", "an execution: part filled"),
        "canceled": ("canceled", "canceled"),
        "expired": ("expired", "time in force ran out"),
        "replaced": ("replaced", "the replace took effect"),
        "rejected": ("rejected", "refused (for a replacing order: the replace was refused)"),
        "order_cancel_rejected": ("cancel_rejected", "the cancel was refused"),
        "order_replace_rejected": ("replace_rejected", "the replace was refused"),
        "done_for_day": ("none", "no more executions today; the order stays open"),
        "calculated": ("none", "settlement pending; the fills came as their own events"),
        "stopped": ("none", "a trade is guaranteed; the fill comes as its own event"),
        "pending_cancel": ("none", "the manager already applied PendingCancel"),
        "pending_replace": ("none", "the manager already applied PendingReplace"),
        "suspended": ("halt", "not eligible for trading: may resume or be canceled"),
        "held": ("halt", "held: bifrost sends no bracket orders"),
        "restated": ("halt", "restated by the venue: what changed is not said"),
    }
)

_TYPES: Final = MappingProxyType(
    {OrderType.MARKET: "market", OrderType.LIMIT: "limit", OrderType.STOP: "stop", OrderType.STOP_LIMIT: "stop_limit"}
)
_TIFS: Final = MappingProxyType(
    {TimeInForce.DAY: "day", TimeInForce.GTC: "gtc", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HaltedOrder:
    """An order whose Alpaca status or event bifrost does not map: nothing more is applied to it."""

    client_order_id: str
    status: str
    ts: pd.Timestamp


class _HttpError(Exception):
    def __init__(self, status: int, text: str, headers: Mapping[str, str]) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.text = text
        self.headers = headers

    @property
    def message(self) -> str:
        try:
            body = json.loads(self.text)
        except ValueError:
            return self.text.strip()[:300] or f"HTTP {self.status}"
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return str(body["message"])
        return self.text.strip()[:300]


class _RateLimiter:
    # a sliding 60 s window of request times, plus a pause the server's headers ask for
    def __init__(self, per_minute: int, sleep: Callable[[float], None]) -> None:
        self.per_minute = per_minute
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._pause_until = 0.0
        self._lock = threading.Lock()

    def before(self) -> None:
        with self._lock:
            now = time.monotonic()
            while self._sent and self._sent[0] <= now - 60.0:
                self._sent.popleft()
            wait = self._pause_until - now
            if len(self._sent) >= self.per_minute:
                wait = max(wait, self._sent[0] + 60.0 - now)
            if wait > 0:
                self._sleep(wait)
            self._pause_until = 0.0
            self._sent.append(time.monotonic())

    def after(self, headers: Mapping[str, str]) -> None:
        remaining = _header_float(headers, "X-Ratelimit-Remaining")
        reset = _header_float(headers, "X-Ratelimit-Reset")
        if remaining is None or reset is None:
            return
        to_reset = min(max(reset - time.time(), 0.0), 60.0)
        limit = _header_float(headers, "X-Ratelimit-Limit") or float(self.per_minute)
        with self._lock:
            if remaining <= 0:
                self._pause_until = time.monotonic() + to_reset
            elif remaining < limit / 10:
                self._pause_until = time.monotonic() + to_reset / (remaining + 1)

    @staticmethod
    def retry_wait(headers: Mapping[str, str]) -> float:
        retry_after = _header_float(headers, "Retry-After")
        if retry_after is not None:
            return min(max(retry_after, 0.0), 60.0)
        reset = _header_float(headers, "X-Ratelimit-Reset")
        if reset is not None:
            return min(max(reset - time.time(), 0.0), 60.0)
        return 1.0


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _text(value: Decimal) -> str:
    # Alpaca takes numbers as strings; never an exponent ("1E+1")
    return format(value, "f")


def _decimal(value: object, field: str) -> Decimal:
    # Alpaca sends numbers as strings; a JSON number is read by its shortest repr, never as a binary float
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BrokerError(f"alpaca: {field} is not a number: {value!r}")
    try:
        number = Decimal(value if isinstance(value, str | int) else repr(value))
    except InvalidOperation:
        raise BrokerError(f"alpaca: {field} is not a number: {value!r}") from None
    if not number.is_finite():
        raise BrokerError(f"alpaca: {field} is not finite: {value!r}")
    return number


def _ts(value: object) -> pd.Timestamp:
    if not isinstance(value, str) or not value:
        return pd.Timestamp.now(tz="UTC")
    try:
        ts = pd.Timestamp(value)
    except ValueError:
        raise BrokerError(f"alpaca: a timestamp is not one: {value!r}") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _side(value: object, where: str) -> Side:
    try:
        return Side(str(value))
    except ValueError:
        raise BrokerError(f"alpaca: {where}: side is {value!r}, expected 'buy' or 'sell'") from None


def _trade_id(broker_order_id: str, cumulative: Decimal) -> str:
    return f"{broker_order_id}:{_text(cumulative.normalize())}"


def _base_id(client_order_id: str) -> str:
    return client_order_id.split(REPLACEMENT_SEPARATOR, 1)[0]


def _new_client(
    *,
    key_id: str,
    secret_key: str,
    paper: bool,
    base_url: str | None,
    timeout_s: float,
    limiter: _RateLimiter,
    sleep: Callable[[float], None],
    max_rate_retries: int,
) -> Any:
    import warnings

    with warnings.catch_warnings():
        # alpaca-py 0.44 imports websockets.legacy (deprecated in websockets 14) on import of
        # alpaca.trading; not ours to fix, and the REST client does not use it
        warnings.filterwarnings("ignore", message="websockets.legacy is deprecated", category=DeprecationWarning)
        try:
            from alpaca.trading.client import TradingClient
        except ImportError as exc:
            raise ConfigError("AlpacaBroker needs alpaca-py: pip install 'bifrost[broker]'") from exc

    class _Client(TradingClient):
        def _one_request(self, method: str, url: str, opts: dict[str, Any], retry: int) -> Any:
            # alpaca-py's version: no timeout, a fixed 3 s sleep on 429 and a blind re-send on 504
            for _ in range(max_rate_retries + 1):
                limiter.before()
                response: requests.Response = self._session.request(method, url, timeout=timeout_s, **opts)
                limiter.after(response.headers)
                if response.status_code == 429:
                    wait = limiter.retry_wait(response.headers)
                    _log.warning("alpaca: %s %s rate limited (429); retrying in %.2f s", method, _path(url), wait)
                    sleep(wait)
                    continue
                if response.status_code >= 400:
                    raise _HttpError(response.status_code, response.text, response.headers)
                return response.json() if response.text else None
            raise _HttpError(429, f"still rate limited after {max_rate_retries} waits", {})

    return _Client(api_key=key_id, secret_key=secret_key, paper=paper, raw_data=True, url_override=base_url)


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]


class AlpacaBroker:
    """Trade an Alpaca account (paper or live) as a `Broker`.

    Parameters
    ----------
    key_id, secret_key
        The account's API keys (``[keys] alpaca_key_id`` / ``alpaca_secret_key`` in
        ``bifrost.toml``, or ``BIFROST_ALPACA_KEY_ID`` / ``BIFROST_ALPACA_SECRET_KEY``; see
        `AlpacaBroker.from_settings`). Never logged or shown.
    paper
        Trade the paper account (``base_url`` and ``stream_url`` default to Alpaca's paper
        endpoints; ``False``: the live ones).
    base_url, stream_url
        Where the REST API (``https://host``, without ``/v2``) and the ``trade_updates``
        websocket (``wss://host/stream``) answer; a test points them at
        `bifrost.testing.AlpacaStandIn`.
    timeout_s
        Seconds one request (and the stream's connection) may take before its outcome is
        unknown.
    account
        The portfolio these keys trade; None: any portfolio name is this account (one
        portfolio per Alpaca account is then the caller's rule). A report call naming another
        raises `BrokerError`; an order for another is rejected.
    requests_per_minute
        The client-side limit (Alpaca allows 200 a minute).
    max_rate_retries
        How many 429 answers one request waits out before it gives up (`BrokerUnavailableError`).
    sleep
        How to wait (tests pass a recorder); `time.sleep` by default.
    stream
        Read ``trade_updates`` (default). Without it `poll_events` returns nothing and the
        manager learns what happened from `get_order` and `fills` (its reconcile).

    Raises
    ------
    ConfigError
        If a key is empty, a number is out of range, or alpaca-py is not installed.
    BrokerUnavailableError
        If the stream does not answer within ``timeout_s``.
    BrokerError
        If the stream refuses the keys.

    Notes
    -----
    The conventions (status table, trade ids, replacements, errors, rate limit) are in the
    module docstring of ``bifrost.execution._alpaca``. Use it as a context manager, or call
    `close`, to stop the stream thread.
    """

    name = "alpaca"

    def __init__(
        self,
        *,
        key_id: str,
        secret_key: str,
        paper: bool = True,
        base_url: str | None = None,
        stream_url: str | None = None,
        timeout_s: float = 10.0,
        account: str | None = None,
        requests_per_minute: int = 200,
        max_rate_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        stream: bool = True,
    ) -> None:
        if not isinstance(key_id, str) or not key_id or not isinstance(secret_key, str) or not secret_key:
            raise ConfigError("AlpacaBroker needs both keys: alpaca_key_id and alpaca_secret_key (one is empty)")
        if isinstance(timeout_s, bool) or not (isinstance(timeout_s, int | float) and 0 < timeout_s <= 600):
            raise ConfigError(f"AlpacaBroker: timeout_s must be in (0, 600] seconds, got {timeout_s!r}")
        if isinstance(requests_per_minute, bool) or not (
            isinstance(requests_per_minute, int) and 1 <= requests_per_minute <= 10_000
        ):
            raise ConfigError(f"AlpacaBroker: requests_per_minute must be in [1, 10000], got {requests_per_minute!r}")
        if isinstance(max_rate_retries, bool) or not (
            isinstance(max_rate_retries, int) and 0 <= max_rate_retries <= 100
        ):
            raise ConfigError(f"AlpacaBroker: max_rate_retries must be in [0, 100], got {max_rate_retries!r}")
        self._key_id = key_id
        self._secret_key = secret_key
        self.paper = paper
        self.base_url = (base_url or (PAPER_URL if paper else LIVE_URL)).rstrip("/")
        self.stream_url = stream_url or (PAPER_STREAM_URL if paper else LIVE_STREAM_URL)
        self.timeout_s = float(timeout_s)
        self.account_name = account
        self._limiter = _RateLimiter(requests_per_minute, sleep)
        self._client = _new_client(
            key_id=key_id,
            secret_key=secret_key,
            paper=paper,
            base_url=self.base_url,
            timeout_s=self.timeout_s,
            limiter=self._limiter,
            sleep=sleep,
            max_rate_retries=max_rate_retries,
        )
        self._lock = threading.Lock()
        self._acknowledged: set[str] = set()  # client ids whose Accepted (or a later event) was returned
        self._live_ids: dict[str, str] = {}  # our client id -> the Alpaca id that lives on (after replaces)
        self._client_ids: dict[str, str] = {}  # Alpaca id -> our client id
        self._replacing: dict[str, dict[str, Any]] = {}  # Alpaca id of a replacing order -> its PATCH answer
        self.halted: dict[str, HaltedOrder] = {}
        self._inbox: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._pending: deque[dict[str, Any]] = deque()  # taken from the inbox, not yet translated
        self._stream: _TradeStream | None = None
        if stream:
            self._stream = _TradeStream(self.stream_url, key_id, secret_key, self.timeout_s, self._inbox, self._scrub)
            try:
                self._stream.start()
            except BrokerError:
                self._stream = None
                self.close()
                raise

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout_s: float = 10.0, stream: bool = True) -> AlpacaBroker:
        """Make the broker from bifrost's settings (keys, ``alpaca_base_url``).

        The stream URL follows the base URL (``https://host`` → ``wss://host/stream``); a base
        URL that is not Alpaca's live API trades paper.

        Raises
        ------
        ConfigError
            If a key is missing (naming which, and where to set it).
        """
        missing = [name for name in ("alpaca_key_id", "alpaca_secret_key") if not settings.keys.get(name)]
        if missing:
            raise ConfigError(
                f"the alpaca broker needs {' and '.join(missing)}: set [keys] in bifrost.toml or "
                + " / ".join(f"BIFROST_{name.upper()}" for name in missing)
            )
        base = (settings.alpaca_base_url or PAPER_URL).rstrip("/")
        scheme, _, rest = base.partition("://")
        stream_url = f"{'wss' if scheme == 'https' else 'ws'}://{rest}/stream"
        return cls(
            key_id=settings.keys["alpaca_key_id"],
            secret_key=settings.keys["alpaca_secret_key"],
            paper=base != LIVE_URL,
            base_url=base,
            stream_url=stream_url,
            timeout_s=timeout_s,
            stream=stream,
        )

    def __repr__(self) -> str:
        shown = mask_secrets(self.base_url)
        return f"AlpacaBroker(key_id={MASK!r}, secret_key={MASK!r}, paper={self.paper!r}, base_url={shown!r})"

    def __enter__(self) -> AlpacaBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the stream thread and close the HTTP session (idempotent)."""
        if self._stream is not None:
            self._stream.stop()
            self._stream = None
        self._client._session.close()

    # ---------------------------------------------------------------- orders

    def submit(self, order: Order) -> list[OrderEvent]:
        """Send ``order`` (``POST /v2/orders``) and return what Alpaca's answer says.

        Returns
        -------
        list of OrderEvent
            ``[Accepted]`` for a working order (fills arrive on the stream), ``[Rejected]`` for
            a 403 (``INSUFFICIENT_CASH``) or another 4xx (``BROKER``, Alpaca's message), the
            order's own events when Alpaca already has its client_order_id.

        Raises
        ------
        BrokerUnavailableError
            On a 5xx, a timeout or a broken connection: the order may be at Alpaca; ask
            `get_order` (never send it again).
        """
        request = order.request
        coid = order.client_order_id
        if self.account_name is not None and request.portfolio != self.account_name:
            message = f"alpaca: these keys trade portfolio {self.account_name!r}, not {request.portfolio!r}"
            return [
                Rejected(
                    client_order_id=coid, ts=pd.Timestamp.now(tz="UTC"), reason=RejectReason.BROKER, message=message
                )
            ]
        body: dict[str, str] = {
            "symbol": request.symbol,
            "qty": _text(request.quantity),
            "side": str(request.side),
            "type": _TYPES[request.order_type],
            "time_in_force": _TIFS[request.time_in_force],
            "client_order_id": coid,
        }
        if request.limit_price is not None:
            body["limit_price"] = _text(request.limit_price)
        if request.stop_price is not None:
            body["stop_price"] = _text(request.stop_price)
        try:
            answer = self._client.post("/orders", body)
        except _HttpError as exc:
            if exc.status >= 500 or exc.status == 429:
                raise self._unavailable("submit", exc) from None
            return self._refused(order, exc)
        except Exception as exc:
            failure = self._transport("submit", exc)
            if isinstance(failure, BrokerUnavailableError):
                raise failure from None
            # a 2xx whose body cannot be read: Alpaca may hold the order
            raise BrokerUnavailableError(f"{failure}; its outcome is unknown") from None
        if not isinstance(answer, dict):
            raise BrokerUnavailableError("alpaca: submit: the answer is not an order object; its outcome is unknown")
        return self._answer_events(coid, answer)

    def _refused(self, order: Order, exc: _HttpError) -> list[OrderEvent]:
        coid = order.client_order_id
        now = pd.Timestamp.now(tz="UTC")
        if exc.status == 422:
            # a 422 for a client_order_id Alpaca already has: that order, never a second one
            existing = self._lookup(coid, "submit")
            if existing is not None:
                _log.info("alpaca: submit %s: Alpaca already has this client_order_id; its state is used", coid)
                return self._answer_events(coid, existing)
        reason = RejectReason.INSUFFICIENT_CASH if exc.status == 403 else RejectReason.BROKER
        hint = ": check alpaca_key_id / alpaca_secret_key" if exc.status == 401 else ""
        message = self._scrub(f"alpaca refused the order (HTTP {exc.status}): {exc.message}{hint}")
        _log.info("alpaca: submit %s rejected: %s", coid, message)
        with self._lock:
            self._acknowledged.add(coid)
        return [Rejected(client_order_id=coid, ts=now, reason=reason, message=message)]

    def _answer_events(self, coid: str, data: dict[str, Any]) -> list[OrderEvent]:
        # the events an order object Alpaca just returned implies for an order we just sent
        broker_id = str(data.get("id") or "")
        status = str(data.get("status") or "")
        ts = _ts(data.get("updated_at") or data.get("created_at"))
        with self._lock:
            self._acknowledged.add(coid)
            if broker_id:
                self._live_ids[coid] = broker_id
                self._client_ids[broker_id] = coid
        accepted = Accepted(client_order_id=coid, ts=ts, broker_order_id=broker_id or None)
        rule = ALPACA_ORDER_STATUSES.get(status, ("halt", ""))[0]
        if rule == OrderStatus.REJECTED:
            return [
                Rejected(client_order_id=coid, ts=ts, reason=RejectReason.BROKER, message="alpaca rejected the order")
            ]
        if rule == OrderStatus.CANCELED:
            return [
                Canceled(client_order_id=coid, ts=ts, reason=self._cancel_reason(data), message="canceled by alpaca")
            ]
        if rule == OrderStatus.EXPIRED:
            return [accepted, Expired(client_order_id=coid, ts=ts)]
        if rule == "halt":
            self._halt(coid, status, ts)
        # fills (filled, partially_filled) arrive with their trade ids on the stream and in fills()
        return [accepted]

    def cancel(self, order: Order) -> list[OrderEvent]:
        """Ask Alpaca to cancel ``order`` (``DELETE /v2/orders/{id}``).

        Returns
        -------
        list of OrderEvent
            ``[PendingCancel]`` when Alpaca took the request (``Canceled`` arrives on the
            stream), ``[PendingCancel, CancelRejected]`` when it refused (422: not
            cancelable; 404: unknown).

        Raises
        ------
        BrokerUnavailableError
            On a 5xx, a timeout or a broken connection.
        BrokerError
            On 401/403 or another refusal of the call itself.
        """
        coid = order.client_order_id
        self._check_account(order.request.portfolio, "cancel")
        broker_id = self._live_id(order, "cancel")
        now = pd.Timestamp.now(tz="UTC")
        sent = PendingCancel(client_order_id=coid, ts=now)
        if broker_id is None:
            return [sent, CancelRejected(client_order_id=coid, ts=now, message="alpaca has no such order")]
        try:
            self._client.delete(f"/orders/{broker_id}")
        except _HttpError as exc:
            if exc.status in (404, 422):
                message = self._scrub(f"alpaca refused the cancel (HTTP {exc.status}): {exc.message}")
                return [sent, CancelRejected(client_order_id=coid, ts=now, message=message)]
            raise self._error("cancel", exc) from None
        except Exception as exc:
            raise self._transport("cancel", exc) from None
        return [sent]

    def replace(
        self,
        order: Order,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> list[OrderEvent]:
        """Ask Alpaca to replace ``order`` (``PATCH /v2/orders/{id}``; None: unchanged).

        Alpaca answers with the replacing order, but the replace takes effect only when the
        stream says ``replaced`` (the old order may fill first, and the replace is refused).

        Returns
        -------
        list of OrderEvent
            ``[PendingReplace]`` when Alpaca took the request, ``[PendingReplace,
            ReplaceRejected]`` when it refused it (403, 422, 404).

        Raises
        ------
        BrokerUnavailableError
            On a 5xx, a timeout or a broken connection.
        BrokerError
            On 401 or another refusal of the call itself.
        """
        coid = order.client_order_id
        self._check_account(order.request.portfolio, "replace")
        broker_id = self._live_id(order, "replace")
        now = pd.Timestamp.now(tz="UTC")
        sent = PendingReplace(
            client_order_id=coid, ts=now, quantity=quantity, limit_price=limit_price, stop_price=stop_price
        )
        if broker_id is None:
            return [sent, ReplaceRejected(client_order_id=coid, ts=now, message="alpaca has no such order")]
        body: dict[str, str] = {"client_order_id": f"{coid}{REPLACEMENT_SEPARATOR}{secrets.token_hex(4)}"}
        if quantity is not None:
            body["qty"] = _text(quantity)
        if limit_price is not None:
            body["limit_price"] = _text(limit_price)
        if stop_price is not None:
            body["stop_price"] = _text(stop_price)
        try:
            answer = self._client.patch(f"/orders/{broker_id}", body)
        except _HttpError as exc:
            if exc.status in (403, 404, 422):
                message = self._scrub(f"alpaca refused the replace (HTTP {exc.status}): {exc.message}")
                return [sent, ReplaceRejected(client_order_id=coid, ts=now, message=message)]
            raise self._error("replace", exc) from None
        except Exception as exc:
            raise self._transport("replace", exc) from None
        data = self._as_dict(answer, "replace")
        with self._lock:
            new_id = str(data.get("id") or "")
            if new_id:
                self._replacing[new_id] = data
                self._client_ids[new_id] = coid
        return [sent]

    # --------------------------------------------------------------- reports

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """Return Alpaca's view of the order (``GET /v2/orders:by_client_order_id``), None on 404.

        A replaced order is followed to the order that replaced it.

        Raises
        ------
        BrokerError
            If the order is halted (a status bifrost does not map: named), or the call is refused.
        BrokerUnavailableError
            On a 5xx, a timeout or a broken connection.
        """
        data = self._lookup(client_order_id, "get_order")
        if data is None:
            return None
        return self._broker_order(self._follow(data, "get_order"))

    def open_orders(self, account: str) -> list[BrokerOrder]:
        """Return the account's working orders (``GET /v2/orders?status=open``), oldest first.

        Raises
        ------
        BrokerError
            If one of them is halted (its status named), or the call is refused.
        """
        self._check_account(account, "open_orders")
        params: dict[str, str | int] = {"status": "open", "limit": _ORDERS_PAGE, "direction": "asc", "nested": "false"}
        seen: dict[str, dict[str, Any]] = {}
        while True:  # pages by submission time (Alpaca's ``after`` is exclusive; ids dedupe equal times)
            page = self._as_list(self._get("open_orders", "/orders", params), "open_orders")
            fresh = [row for row in page if str(row.get("id")) not in seen]
            seen.update((str(row.get("id")), row) for row in fresh)
            if len(page) < _ORDERS_PAGE or not fresh:
                return [self._broker_order(row) for row in seen.values()]
            params["after"] = str(page[-1].get("submitted_at") or page[-1].get("created_at"))

    def fills(self, account: str, *, since: pd.Timestamp | None = None) -> list[BrokerFill]:
        """Return the account's fills (``GET /v2/account/activities/FILL``), oldest first.

        Raises
        ------
        BrokerError
            If the call is refused or an activity is malformed.
        """
        self._check_account(account, "fills")
        params: dict[str, str | int] = {"direction": "asc", "page_size": _PAGE_SIZE}
        if since is not None:
            params["after"] = pd.Timestamp(since).isoformat()
        out: list[BrokerFill] = []
        while True:
            page = self._as_list(self._get("fills", "/account/activities/FILL", params), "fills")
            for row in page:
                out.append(self._broker_fill(row))
            if len(page) < _PAGE_SIZE:
                return out
            params["page_token"] = str(page[-1].get("id"))

    def positions(self, account: str) -> dict[str, Decimal]:
        """Return the account's positions in signed shares (``GET /v2/positions``)."""
        self._check_account(account, "positions")
        out: dict[str, Decimal] = {}
        for row in self._as_list(self._get("positions", "/positions", None), "positions"):
            qty = abs(_decimal(row.get("qty"), f"position {row.get('symbol')} qty"))
            if qty:
                out[str(row.get("symbol"))] = -qty if row.get("side") == "short" else qty
        return out

    def account(self, account: str) -> BrokerAccount:
        """Return the account's cash, buying power and equity (``GET /v2/account``)."""
        self._check_account(account, "account")
        data = self._as_dict(self._get("account", "/account", None), "account")
        return BrokerAccount(
            account=account,
            cash=_decimal(data.get("cash"), "account cash"),
            buying_power=_decimal(data.get("buying_power"), "account buying_power"),
            equity=_decimal(data.get("equity"), "account equity"),
            currency=str(data.get("currency") or "USD"),
        )

    def poll_events(self) -> list[OrderEvent]:
        """Return the order events the ``trade_updates`` stream brought since the last poll.

        Events of halted orders are withheld (see `halted`) until Alpaca's report of the order
        maps again (`get_order`, `open_orders`); an update that cannot be read halts its order.
        A ``replaced`` event whose replacing order this object did not send is completed by
        ``GET /v2/orders/{id}``; when that fails, it and the updates after it wait for the next
        poll (what came before is returned).
        """
        if self._stream is not None and self._stream.error is not None:
            raise BrokerError(self._stream.error)
        while True:
            try:
                self._pending.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        out: list[OrderEvent] = []
        while self._pending:
            message = self._pending[0]
            try:
                events = self._stream_events(message)
            except BrokerUnavailableError as exc:  # a lookup it needs failed: it waits for the next poll
                _log.warning("alpaca: an order update waits for the next poll: %s", exc)
                break
            except BrokerError as exc:  # unreadable: never guessed, the order halts
                order = message.get("order")
                coid = _base_id(str(order.get("client_order_id") or "")) if isinstance(order, dict) else "?"
                self._halt(coid, f"unreadable {message.get('event')!r} update ({exc})", pd.Timestamp.now(tz="UTC"))
                events = []
            self._pending.popleft()
            out.extend(events)
        return out

    # ------------------------------------------------------------- internals

    def _stream_events(self, data: dict[str, Any]) -> list[OrderEvent]:
        order = data.get("order")
        if not isinstance(order, dict):
            return []
        event = str(data.get("event") or "")
        raw_coid = str(order.get("client_order_id") or "")
        coid = _base_id(raw_coid)
        replacing = raw_coid != coid
        broker_id = str(order.get("id") or "")
        ts = _ts(data.get("timestamp") or order.get("updated_at"))
        if coid in self.halted:
            _log.warning("alpaca: %s event for halted order %s withheld", event, coid)
            return []
        rule = _STREAM_EVENTS.get(event, ("halt", ""))[0]
        if rule == "halt":
            self._halt(coid, event, ts)
            return []
        with self._lock:
            if broker_id:
                self._client_ids[broker_id] = coid
            first = coid not in self._acknowledged
            self._acknowledged.add(coid)
        match rule:
            case "ack":
                if replacing or not first:
                    return []
                with self._lock:
                    self._live_ids.setdefault(coid, broker_id)
                return [Accepted(client_order_id=coid, ts=ts, broker_order_id=broker_id or None)]
            case "fill":
                cumulative = _decimal(order.get("filled_qty"), f"{coid} filled_qty")
                return [
                    Filled(
                        client_order_id=coid,
                        ts=ts,
                        trade_id=_trade_id(broker_id, cumulative),
                        quantity=_decimal(data.get("qty"), f"{coid} fill qty"),
                        price=_decimal(data.get("price"), f"{coid} fill price"),
                    )
                ]
            case "canceled":
                return [Canceled(client_order_id=coid, ts=ts, reason=self._cancel_reason(order))]
            case "expired":
                return [Expired(client_order_id=coid, ts=ts)]
            case "replaced":
                return [self._replaced(coid, order, ts)]
            case "rejected":
                if replacing:
                    return [ReplaceRejected(client_order_id=coid, ts=ts, message="alpaca rejected the replacing order")]
                return [
                    Rejected(
                        client_order_id=coid, ts=ts, reason=RejectReason.BROKER, message="alpaca rejected the order"
                    )
                ]
            case "cancel_rejected":
                return [CancelRejected(client_order_id=coid, ts=ts, message="alpaca refused the cancel")]
            case "replace_rejected":
                return [ReplaceRejected(client_order_id=coid, ts=ts, message="alpaca refused the replace")]
            case _:
                return []

    def _replaced(self, coid: str, old: dict[str, Any], ts: pd.Timestamp) -> Replaced:
        new_id = str(old.get("replaced_by") or "")
        with self._lock:
            new = self._replacing.pop(new_id, None)
        if new is None:
            new = self._as_dict(self._get("replace", f"/orders/{new_id}", None), "replace")
        with self._lock:
            self._live_ids[coid] = new_id
            self._client_ids[new_id] = coid
        return Replaced(
            client_order_id=coid,
            ts=ts,
            quantity=_decimal(new.get("qty"), f"{coid} qty"),
            limit_price=None
            if new.get("limit_price") is None
            else _decimal(new.get("limit_price"), f"{coid} limit_price"),
            stop_price=None if new.get("stop_price") is None else _decimal(new.get("stop_price"), f"{coid} stop_price"),
            broker_order_id=new_id,
        )

    @staticmethod
    def _cancel_reason(order: Mapping[str, Any]) -> CancelReason:
        if order.get("cancel_requested_at"):
            return CancelReason.REQUESTED
        if order.get("time_in_force") in ("ioc", "fok"):
            return CancelReason.UNFILLED
        return CancelReason.BROKER

    def _halt(self, coid: str, status: str, ts: pd.Timestamp) -> None:
        with self._lock:
            self.halted.setdefault(coid, HaltedOrder(client_order_id=coid, status=status, ts=ts))
        _log.error(
            "alpaca: order %s halted: status/event %r is not mapped by bifrost; resolve it by hand", coid, status
        )

    def _broker_order(self, data: dict[str, Any]) -> BrokerOrder:
        coid = _base_id(str(data.get("client_order_id") or ""))
        status = str(data.get("status") or "")
        rule = ALPACA_ORDER_STATUSES.get(status, ("halt", ""))[0]
        if rule == "halt":
            self._halt(coid, status, _ts(data.get("updated_at")))
            raise BrokerError(
                f"alpaca: order {coid} has status {status!r}, which bifrost does not map "
                "(it is halted: resolve it at Alpaca, then reconcile)"
            )
        with self._lock:
            # Alpaca's report maps again: it is authoritative, the stream's events flow again
            lifted = self.halted.pop(coid, None)
        if lifted is not None:
            _log.warning("alpaca: order %s is no longer halted: Alpaca reports it %r", coid, status)
        quantity = _decimal(data.get("qty"), f"{coid} qty")
        filled = _decimal(data.get("filled_qty") or "0", f"{coid} filled_qty")
        working = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED
        if rule == "working":
            mapped = working
        elif rule == "filled_or_working":
            mapped = OrderStatus.FILLED if filled >= quantity else working
        else:
            mapped = rule
        price = data.get("filled_avg_price")
        return BrokerOrder(
            client_order_id=coid,
            broker_order_id=str(data.get("id")) if data.get("id") else None,
            symbol=str(data.get("symbol")),
            side=_side(data.get("side"), coid),
            quantity=quantity,
            filled_quantity=filled,
            status=mapped,
            avg_fill_price=None if price is None else _decimal(price, f"{coid} filled_avg_price"),
            ts_updated=_ts(data.get("updated_at") or data.get("created_at")),
        )

    def _broker_fill(self, row: dict[str, Any]) -> BrokerFill:
        broker_id = str(row.get("order_id") or "")
        with self._lock:
            coid = self._client_ids.get(broker_id)
        if coid is None:
            coid = _base_id(
                str(self._as_dict(self._get("fills", f"/orders/{broker_id}", None), "fills").get("client_order_id"))
            )
            with self._lock:
                self._client_ids[broker_id] = coid
        cumulative = _decimal(row.get("cum_qty"), f"fill {row.get('id')} cum_qty")
        return BrokerFill(
            client_order_id=coid,
            trade_id=_trade_id(broker_id, cumulative),
            ts=_ts(row.get("transaction_time")),
            symbol=str(row.get("symbol")),
            side=_side(row.get("side"), f"fill {row.get('id')}"),
            quantity=_decimal(row.get("qty"), f"fill {row.get('id')} qty"),
            price=_decimal(row.get("price"), f"fill {row.get('id')} price"),
            commission=Decimal(0),
        )

    def _follow(self, data: dict[str, Any], call: str) -> dict[str, Any]:
        # a replaced order's report is the one that replaced it (the chain, to the living one)
        for _ in range(_MAX_REPLACE_HOPS):
            if data.get("status") != "replaced" or not data.get("replaced_by"):
                return data
            data = self._as_dict(self._get(call, f"/orders/{data['replaced_by']}", None), call)
        raise BrokerError(f"alpaca: {call}: more than {_MAX_REPLACE_HOPS} replacements of one order")

    def _lookup(self, client_order_id: str, call: str) -> dict[str, Any] | None:
        try:
            data = self._client.get("/orders:by_client_order_id", {"client_order_id": client_order_id})
        except _HttpError as exc:
            if exc.status == 404:
                return None
            raise self._error(call, exc) from None
        except Exception as exc:
            raise self._transport(call, exc) from None
        return self._as_dict(data, call)

    def _live_id(self, order: Order, call: str) -> str | None:
        with self._lock:
            known = self._live_ids.get(order.client_order_id)
        if known is not None:
            return known
        data = self._lookup(order.client_order_id, call)
        if data is None:
            return None
        live = self._follow(data, call)
        broker_id = str(live.get("id"))
        with self._lock:
            self._live_ids[order.client_order_id] = broker_id
        return broker_id

    def _get(self, call: str, path: str, params: Mapping[str, str | int] | None) -> Any:
        try:
            return self._client.get(path, dict(params) if params else None)
        except _HttpError as exc:
            raise self._error(call, exc) from None
        except Exception as exc:
            raise self._transport(call, exc) from None

    def _check_account(self, account: str, call: str) -> None:
        if self.account_name is not None and account != self.account_name:
            raise BrokerError(f"alpaca: {call}: these keys trade portfolio {self.account_name!r}, not {account!r}")

    def _error(self, call: str, exc: _HttpError) -> BrokerError:
        if exc.status >= 500 or exc.status == 429:
            return self._unavailable(call, exc)
        hint = ": check alpaca_key_id / alpaca_secret_key" if exc.status in (401, 403) else ""
        return BrokerError(self._scrub(f"alpaca: {call} refused (HTTP {exc.status}): {exc.message}{hint}"))

    def _unavailable(self, call: str, exc: _HttpError) -> BrokerUnavailableError:
        return BrokerUnavailableError(
            self._scrub(f"alpaca: {call} failed (HTTP {exc.status}: {exc.message}); its outcome is unknown")
        )

    def _transport(self, call: str, exc: Exception) -> BrokerError:
        import requests

        if isinstance(exc, requests.Timeout):
            return BrokerUnavailableError(
                f"alpaca: {call} timed out after {self.timeout_s:g} s at {mask_secrets(self.base_url)}; "
                "its outcome is unknown"
            )
        if isinstance(exc, ValueError):  # a body that is not JSON (requests' JSONDecodeError is one)
            return BrokerError(self._scrub(f"alpaca: {call}: the answer is not JSON ({exc})"))
        if isinstance(exc, requests.RequestException):
            return BrokerUnavailableError(
                self._scrub(
                    f"alpaca: {call} could not reach {self.base_url} ({type(exc).__name__}); its outcome is unknown"
                )
            )
        raise exc

    def _as_dict(self, value: Any, call: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise BrokerError(f"alpaca: {call}: expected an object, got {type(value).__name__}")
        return value

    def _as_list(self, value: Any, call: str) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise BrokerError(f"alpaca: {call}: expected a list of objects, got {type(value).__name__}")
        return value

    def _scrub(self, text: str) -> str:
        return mask_secrets(text).replace(self._secret_key, MASK).replace(self._key_id, MASK)


class _QuietFrames(logging.Filter):
    # websockets logs every frame at DEBUG, the auth message (with the secret) among them
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_ws_log = logging.getLogger("bifrost.execution.alpaca.stream")
_ws_log.addFilter(_QuietFrames())


class _TradeStream:
    # one thread: connect, authenticate, listen, queue trade_updates; reconnect on a drop
    def __init__(
        self,
        url: str,
        key_id: str,
        secret_key: str,
        timeout_s: float,
        inbox: queue.SimpleQueue[dict[str, Any]],
        scrub: Callable[[str], str],
    ) -> None:
        self.url = url
        self._auth = json.dumps({"action": "auth", "key": key_id, "secret": secret_key})
        self._timeout_s = timeout_s
        self._inbox = inbox
        self._scrub = scrub
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.error: str | None = None  # a refusal that reconnecting cannot fix
        self.connects = 0
        self._thread = threading.Thread(target=self._run, name="alpaca-trade-updates", daemon=True)
        self._ws: ClientConnection | None = None

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(self._timeout_s + 1.0) and self.error is None:
            self.stop()
            raise BrokerUnavailableError(
                f"alpaca: the trade_updates stream at {mask_secrets(self.url)} did not answer in {self._timeout_s:g} s"
            )
        if self.error is not None:
            self.stop()
            raise BrokerError(self.error)

    def stop(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            ws.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self._timeout_s + 2.0)

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                for message in self._session():
                    delay = 0.2
                    self._inbox.put(message)
            except _StreamRefused as exc:
                self.error = str(exc)
                self._ready.set()
                return
            except Exception as exc:  # a dropped or failed connection: reconnect
                if self._stop.is_set():
                    return
                _log.warning(
                    "alpaca: trade_updates stream lost (%s); reconnecting in %.1f s (events meanwhile: reconcile)",
                    self._scrub(type(exc).__name__),
                    delay,
                )
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)

    def _session(self) -> Iterator[dict[str, Any]]:
        from websockets.sync.client import connect

        with connect(self.url, open_timeout=self._timeout_s, logger=_ws_log, max_size=2**22) as ws:
            self._ws = ws
            try:
                ws.send(self._auth)
                answer = _frame(ws.recv(timeout=self._timeout_s))
                if answer.get("stream") != "authorization" or (answer.get("data") or {}).get("status") != "authorized":
                    raise _StreamRefused("alpaca: the trade_updates stream refused the keys (unauthorized)")
                ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
                answer = _frame(ws.recv(timeout=self._timeout_s))
                if "trade_updates" not in ((answer.get("data") or {}).get("streams") or []):
                    raise _StreamRefused(
                        f"alpaca: the stream did not listen to trade_updates: {answer.get('stream')!r}"
                    )
                self.connects += 1
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        message = _frame(ws.recv(timeout=0.2))
                    except TimeoutError:
                        continue
                    if message.get("stream") == "trade_updates" and isinstance(message.get("data"), dict):
                        yield message["data"]
                    elif message.get("action") == "error":
                        _log.warning("alpaca: trade_updates stream error: %s", self._scrub(str(message.get("data"))))
            finally:
                self._ws = None


class _StreamRefused(Exception):
    pass


def _frame(raw: str | bytes) -> dict[str, Any]:
    # the paper stream sends JSON in binary frames, the live one in text frames
    value = json.loads(raw)
    return value if isinstance(value, dict) else {}
