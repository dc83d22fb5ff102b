"""Audit trail benchmark parts (called by ``benchmarks/execution.py``; runs alone too).

- `fill`: bulk-write ``n`` order-event-sized records through `bifrost.data.append_audit_many`
  (50,000 a transaction), the writer's own path: canonical JSON, the hash chain, checkpoints.
- `bench_verify`: `bifrost.compliance.verify_audit` of the whole log (the issue's target:
  1,000,000 records in under 10 s).
- `bench_proof`: `prove_inclusion` of a few records and `check_proof` of each: the proof's
  size in bytes (JSON) and the time to check it.

    python benchmarks/_audit_bench.py [--records 1000000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bifrost.compliance import check_proof, prove_inclusion, verify_audit
from bifrost.data import AUDIT_SCHEMA, BarStore, EmbeddedStore, Store, append_audit_many

BATCH = 50_000
TS = pd.Timestamp("2026-01-02 14:30", tz="UTC")


def fill(store: Store, n: int) -> float:
    """Append ``n`` records shaped like the order manager's ``order.event`` ones; return the seconds taken."""
    started = time.perf_counter()
    for first in range(0, n, BATCH):
        records = [
            (
                "order.event",
                f"ord-{i:08d}",
                {
                    "type": "filled",
                    "client_order_id": f"c-{i:08d}",
                    "trade_id": f"t-{i:08d}",
                    "symbol": "ORCL",
                    "side": "buy",
                    "quantity": "100",
                    "price": "37.84",
                    "commission": "0.00",
                    "ts": "2026-01-02T14:30:00+00:00",
                },
            )
            for i in range(first, min(n, first + BATCH))
        ]
        with store.transaction(schema=AUDIT_SCHEMA, lock="audit-bench") as db:
            append_audit_many(db, records, ts=TS)
    return time.perf_counter() - started


def bench_verify(store: Store) -> dict[str, Any]:
    """Verify the whole log once; return ``records``, ``verify_s``, ``verify_cpu_s`` and ``checkpoints``.

    The CPU time is this process's only (PostgreSQL's own work is in the wall time): on a
    shared machine it says what the verification costs apart from waiting for a core.
    """
    started, cpu = time.perf_counter(), time.process_time()
    result = verify_audit(store)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    if not result.ok:
        raise SystemExit(f"the benchmark's log does not verify: {result}")
    return {"records": result.records, "verify_s": seconds, "verify_cpu_s": cpu_s, "checkpoints": result.checkpoints}


def bench_proof(store: Store, seqs: Sequence[int], *, repeat: int = 200) -> dict[str, Any]:
    """Prove each of ``seqs`` and check each proof ``repeat`` times; return the largest size and median times."""
    sizes, prove_ms, check_ms, path = [], [], [], 0
    for seq in seqs:
        started = time.perf_counter()
        proof = prove_inclusion(store, seq)
        prove_ms.append((time.perf_counter() - started) * 1000)
        text = json.dumps(proof)
        sizes.append(len(text.encode()))
        path = max(path, len(proof["path"]))
        parsed = json.loads(text)  # as a third party receives it
        started = time.perf_counter()
        for _ in range(repeat):
            if not check_proof(parsed, root=proof["root"]):
                raise SystemExit(f"the proof of record {seq} does not check")
        check_ms.append((time.perf_counter() - started) * 1000 / repeat)
    return {
        "proof_bytes": max(sizes),
        "path_hashes": path,
        "prove_ms": statistics.median(prove_ms),
        "check_ms": statistics.median(check_ms),
    }


def rows(store: Store, backend: str, n: int) -> list[list[str]]:
    """Fill, verify and prove on ``store``; return the table's rows (one per backend)."""
    fill_s = fill(store, n)
    verified = bench_verify(store)
    proofs = bench_proof(store, [1, n // 3, n // 2, n - n % 1024 or n, n])
    return [
        [
            backend,
            f"{verified['records']:,}",
            f"{fill_s:.1f}",
            f"{verified['verify_s']:.2f}",
            f"{verified['verify_cpu_s']:.2f}",
            f"{proofs['proof_bytes']:,}",
            str(proofs["path_hashes"]),
            f"{proofs['prove_ms']:.1f}",
            f"{proofs['check_ms']:.3f}",
        ]
    ]


HEADERS = [
    "store",
    "records",
    "fill s",
    "verify s",
    "verify CPU s",
    "proof bytes",
    "path hashes",
    "prove ms",
    "check ms",
]


def table(headers: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test", help="'' to skip")
    args = parser.parse_args(argv)
    body: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store: BarStore = EmbeddedStore(Path(tmp) / "home")
        with store:
            body += rows(store, "embedded (SQLite)", args.records)
        if args.postgres:
            from bifrost.data._postgres import PostgresStore

            schema = f"bench_audit_{uuid.uuid4().hex[:8]}"
            pg = PostgresStore(args.postgres, home=Path(tmp) / "pg-home", schema=schema, timescale=False)
            try:
                body += rows(pg, "PostgreSQL", args.records)
            finally:
                with pg.pool.connection() as con:
                    con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                pg.close()
    print(table(HEADERS, body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
