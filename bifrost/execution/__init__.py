"""Execution: orders and their state machine, the order manager, brokers (paper, Alpaca).

An order intent (`OrderRequest`) goes through the `OrderManager`: pre-trade checks (the
risk limits of `bifrost.risk`, the book's `TradingState`, the compliance rules of
`bifrost.compliance` through `ComplianceCheck`, and any `PreTradeCheck` of your own;
`dry_run` judges an order under the rules without sending or recording it), written ahead
to the store, then to a `Broker` (`PaperBroker` by default, filling against the store's
bars with the backtest engine's `FillModel`; `AlpacaBroker`); the
broker's events change the `Order` (its state machine is data: `TRANSITIONS`), fills reach
the portfolio ledger, and every change is appended to the audit trail in the same
transaction. After a crash, `OrderManager.reconcile` brings the book back in line with the
broker before anything new is sent.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bifrost.execution._broker import Broker, BrokerAccount, BrokerFill, BrokerOrder
from bifrost.execution._bus import OrderBus, Subscriber, orders_marker, wait_for_orders
from bifrost.execution._checks import (
    BookView,
    CheckResult,
    MarketView,
    OpenOrder,
    PreTradeCheck,
    RiskLimitCheck,
    SizeCheck,
    TradingState,
    TradingStateCheck,
    Verdict,
    kill_switch,
    reduces,
    set_trading_state,
    trading_state,
)
from bifrost.execution._order import (
    CLIENT_ORDER_ID_MAX_LEN,
    TERMINAL_STATUSES,
    TRANSITION_EVENTS,
    TRANSITIONS,
    WORKING_STATUSES,
    Accepted,
    Canceled,
    CancelReason,
    CancelRejected,
    Expired,
    Filled,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    PendingCancel,
    PendingReplace,
    Rejected,
    RejectReason,
    Replaced,
    ReplaceRejected,
    Side,
    Submitted,
    SubmitUnknown,
    TimeInForce,
    check_client_order_id,
    check_tick,
    event_from_dict,
    event_to_dict,
    order_states_doc,
    state_diagram,
    tick_size,
)
from bifrost.execution._schema import EXECUTION_SCHEMA

if TYPE_CHECKING:
    from bifrost.execution._alpaca import ALPACA_ORDER_STATUSES, AlpacaBroker, AlpacaStatusRule, HaltedOrder
    from bifrost.execution._compliance import ComplianceCheck, dry_run
    from bifrost.execution._fills import Commission, FillAt, FillModel
    from bifrost.execution._manager import (
        STEPS,
        OrderManager,
        PositionDifference,
        ReconcileReport,
        list_orders,
        load_decisions,
        load_order,
    )
    from bifrost.execution._paper import FILL_BASES, FillBasis, PaperBroker, fill_basis
    from bifrost.execution._paper_schema import PAPER_SCHEMA

# the names whose modules load numba (the fill model) or alpaca-py: imported on first use, so that
# `bifrost.cli` and a dashboard import the order vocabulary without compiling the engine
_LAZY: dict[str, str] = {
    "ALPACA_ORDER_STATUSES": "bifrost.execution._alpaca",
    "AlpacaBroker": "bifrost.execution._alpaca",
    "AlpacaStatusRule": "bifrost.execution._alpaca",
    "HaltedOrder": "bifrost.execution._alpaca",
    "ComplianceCheck": "bifrost.execution._compliance",
    "dry_run": "bifrost.execution._compliance",
    "Commission": "bifrost.execution._fills",
    "FillAt": "bifrost.execution._fills",
    "FillModel": "bifrost.execution._fills",
    "STEPS": "bifrost.execution._manager",
    "OrderManager": "bifrost.execution._manager",
    "PositionDifference": "bifrost.execution._manager",
    "ReconcileReport": "bifrost.execution._manager",
    "list_orders": "bifrost.execution._manager",
    "load_decisions": "bifrost.execution._manager",
    "load_order": "bifrost.execution._manager",
    "FILL_BASES": "bifrost.execution._paper",
    "FillBasis": "bifrost.execution._paper",
    "PaperBroker": "bifrost.execution._paper",
    "fill_basis": "bifrost.execution._paper",
    "PAPER_SCHEMA": "bifrost.execution._paper_schema",
}

__all__ = [
    "ALPACA_ORDER_STATUSES",
    "CLIENT_ORDER_ID_MAX_LEN",
    "EXECUTION_SCHEMA",
    "FILL_BASES",
    "PAPER_SCHEMA",
    "STEPS",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "TRANSITION_EVENTS",
    "WORKING_STATUSES",
    "Accepted",
    "AlpacaBroker",
    "AlpacaStatusRule",
    "BookView",
    "Broker",
    "BrokerAccount",
    "BrokerFill",
    "BrokerOrder",
    "CancelReason",
    "CancelRejected",
    "Canceled",
    "CheckResult",
    "Commission",
    "ComplianceCheck",
    "Expired",
    "FillAt",
    "FillBasis",
    "FillModel",
    "Filled",
    "HaltedOrder",
    "MarketView",
    "OpenOrder",
    "Order",
    "OrderBus",
    "OrderEvent",
    "OrderManager",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "PaperBroker",
    "PendingCancel",
    "PendingReplace",
    "PositionDifference",
    "PreTradeCheck",
    "ReconcileReport",
    "RejectReason",
    "Rejected",
    "ReplaceRejected",
    "Replaced",
    "RiskLimitCheck",
    "Side",
    "SizeCheck",
    "SubmitUnknown",
    "Submitted",
    "Subscriber",
    "TimeInForce",
    "TradingState",
    "TradingStateCheck",
    "Verdict",
    "check_client_order_id",
    "check_tick",
    "dry_run",
    "event_from_dict",
    "event_to_dict",
    "fill_basis",
    "kill_switch",
    "list_orders",
    "load_decisions",
    "load_order",
    "order_states_doc",
    "orders_marker",
    "reduces",
    "set_trading_state",
    "state_diagram",
    "tick_size",
    "trading_state",
    "wait_for_orders",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bifrost.execution' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
