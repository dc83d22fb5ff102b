"""Portfolio benchmark: replay a 100,000-transaction Decimal ledger and value it over 20 years.

50 symbols × 5040 trading days of the seeded demo market; 100,000 fills at real (synthetic)
closes, long and short, plus a deposit. Times: building the Transaction objects is left out;
replaying them into a FIFO ledger (Decimal, with every check), valuing the whole history
in float64 (equity, exposures, attribution) and crediting the store's dividends (what
`load_portfolio` does: merge them in, replay) are timed, best of 3.

    python benchmarks/portfolio.py [--transactions 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from decimal import Decimal

import numpy as np

from bifrost.data import EmbeddedStore, SyntheticMarket, ingest
from bifrost.portfolio import CashFlow, CashKind, Fill, Ledger, Side, value_ledger, with_store_dividends


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--transactions", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        store = EmbeddedStore(home)
        # 2000-2019: every fill in the past (the ledger refuses one dated after tomorrow)
        market = SyntheticMarket(n_symbols=50, n_days=5040, seed=3, start="2000-01-03")
        ingest(store, market)
        panel = store.read_panel(fields=["close"], adjustment="split_adjusted")
        close = panel["close"]
        rng = np.random.default_rng(7)
        days = np.sort(rng.integers(0, close.shape[0], size=args.transactions))
        cols = rng.integers(0, close.shape[1], size=args.transactions)
        qty = rng.integers(1, 100, size=args.transactions)
        buy = rng.random(args.transactions) < 0.5
        txns = [CashFlow(txn_id="d", ts=panel.ts[0], kind=CashKind.DEPOSIT, amount=Decimal(10_000_000))]
        txns += [
            Fill(
                txn_id=str(i),
                ts=panel.ts[d],
                symbol=panel.symbols[c],
                side=Side.BUY if b else Side.SELL,
                quantity=Decimal(int(q)),
                price=Decimal(repr(float(close[d, c]))),
                commission=Decimal("1"),
            )
            for i, (d, c, q, b) in enumerate(zip(days, cols, qty, buy, strict=True))
        ]

        def replay() -> Ledger:
            return Ledger.replay("bench", txns, inception=panel.ts[0], cost_basis="fifo")

        def best(fn, repeat: int = 3) -> tuple[object, float]:  # type: ignore[no-untyped-def]
            times, out = [], None
            for _ in range(repeat):
                t0 = time.perf_counter()
                out = fn()
                times.append(time.perf_counter() - t0)
            return out, min(times)

        ledger, t_replay = best(replay)
        _, t_value = best(lambda: value_ledger(ledger, panel).frame())  # type: ignore[arg-type]
        credited, t_dividends = best(lambda: with_store_dividends(ledger, store))  # type: ignore[arg-type]
        n_dividends = len(credited.transactions) - len(txns)  # type: ignore[attr-defined]
        print(f"\n{len(txns):,} transactions, {close.shape[1]} symbols × {close.shape[0]} days\n")
        print("| step | seconds | transactions/s |")
        print("| --- | ---: | ---: |")
        print(f"| replay into a FIFO Decimal ledger (every check) | {t_replay:.3f} | {len(txns) / t_replay:,.0f} |")
        print(f"| value the whole history (float64) | {t_value:.3f} | {len(txns) / t_value:,.0f} |")
        print(f"| both | {t_replay + t_value:.3f} | |")
        print(
            f"| credit the store's dividends ({n_dividends:,} entries: merge and replay) | {t_dividends:.3f} "
            f"| {len(txns) / t_dividends:,.0f} |"
        )


if __name__ == "__main__":
    main()
