"""The audit trail's writer (`bifrost.data.append_audit`): records, chain, checkpoints, serialised appenders."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bifrost.data import AUDIT_SCHEMA, BarStore, EmbeddedStore, StateDb, append_audit, append_audit_many
from bifrost.data._audit import GENESIS_HASH, _append_rows
from bifrost.errors import InvalidInputError

TS = pd.Timestamp("2014-12-31 15:59:59.250", tz="UTC")


def _rows(store: BarStore) -> list[tuple[Any, ...]]:
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        return db.rows("SELECT seq, ts, kind, subject, payload, prev_hash, hash FROM {t}audit_log ORDER BY seq")


def _head(store: BarStore) -> tuple[int, str]:
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        seq, digest = db.rows("SELECT seq, hash FROM {t}audit_head")[0]
    return int(seq), str(digest)


def _mth(leaves: Sequence[bytes]) -> bytes:
    # RFC 6962 §2.1, written out from the RFC: the reference the checkpoints must match
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _leaf(hex_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(hex_hash)).digest()


def _fails_after(store: BarStore, append: Callable[[StateDb], object]) -> None:
    # a change that appends its record, then fails: the transaction is rolled back
    with store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
        append(db)
        raise RuntimeError("the change failed")


@pytest.fixture
def embedded(tmp_path: Path) -> Any:
    with EmbeddedStore(tmp_path / "home") as store:
        yield store


def test_append_audit_records_are_chained_and_hash_their_canonical_json(store: BarStore) -> None:
    payload = {"quantity": Decimal("100"), "price": Decimal("37.84"), "when": TS, "side": "buy", "n": np.int64(3)}
    with store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
        first = append_audit(db, "fill", "order-1", payload, ts=TS)
        second = append_audit(db, "order.event", "order-1", {"type": "filled", "note": "é ✓"}, ts=TS)
    assert (first, second) == (1, 2)
    rows = _rows(store)
    assert [r[0] for r in rows] == [1, 2]
    _, ts, kind, subject, text, prev, digest = rows[0]
    assert (ts, kind, subject, prev) == ("2014-12-31T15:59:59.250000+00:00", "fill", "order-1", GENESIS_HASH)
    assert text == '{"n":3,"price":"37.84","quantity":"100","side":"buy","when":"2014-12-31T15:59:59.250000+00:00"}'
    whole = {"seq": 1, "ts": ts, "kind": kind, "subject": subject, "payload": json.loads(text), "prev_hash": prev}
    canonical = json.dumps(whole, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert digest == hashlib.sha256(canonical.encode()).hexdigest()
    assert rows[1][5] == digest and rows[1][4] == '{"note":"é ✓","type":"filled"}'  # UTF-8 as is
    assert _head(store) == (2, rows[1][6])


def test_append_audit_in_a_rolled_back_transaction_leaves_no_record(store: BarStore) -> None:
    with store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
        append_audit(db, "book.state", "P1", {"state": "active"}, ts=TS)
    head = _head(store)
    with pytest.raises(RuntimeError, match="the change failed"):
        _fails_after(store, lambda db: append_audit(db, "book.state", "P1", {"state": "halted"}, ts=TS))
    assert len(_rows(store)) == 1 and _head(store) == head
    with store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
        assert append_audit(db, "book.state", "P1", {"state": "halted"}, ts=TS) == 2  # the seq was not used up


BAD = [
    ("Order.Event", "o-1", {}, "an audit kind is dotted lower-case words"),
    ("order..event", "o-1", {}, "an audit kind"),
    ("", "o-1", {}, "an audit kind"),
    ("fill", "", {}, "an audit subject is non-empty text"),
    ("fill", "   ", {}, "an audit subject is non-empty text"),
    ("fill", "a" * 201, {}, "at most 200 characters"),
    ("fill", "o-1\nforged", {}, "no control characters"),
    ("fill", "o-1", {"price": float("nan")}, "the payload is not canonical JSON"),
    ("fill", "o-1", {"price": float("inf")}, "the payload is not canonical JSON"),
    ("fill", "o-1", {"price": np.float64("nan")}, "the payload is not canonical JSON"),
    ("fill", "o-1", {"who": object()}, "object is not JSON"),
    ("fill", "o-1", {"who": {1, 2}}, "set is not JSON"),
    ("fill", "o-1", {"who": "\ud800"}, "surrogate"),
    ("fill", "o-1", ["not", "a", "mapping"], "an audit payload is a mapping"),
]


@pytest.mark.parametrize(("kind", "subject", "payload", "message"), BAD)
def test_append_audit_bad_record_is_refused_and_nothing_is_written(
    embedded: EmbeddedStore, kind: str, subject: str, payload: Any, message: str
) -> None:
    with embedded.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
        with pytest.raises(InvalidInputError, match=message):
            append_audit(db, kind, subject, payload)
        assert db.rows("SELECT count(*) FROM {t}audit_log") == [(0,)]  # the caller's transaction goes on
    assert _head(embedded) == (0, GENESIS_HASH)


def test_append_audit_time_must_be_timezone_aware(embedded: EmbeddedStore) -> None:
    with embedded.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
        with pytest.raises(InvalidInputError, match="must be timezone-aware"):
            append_audit(db, "fill", "o-1", {}, ts=pd.Timestamp("2014-01-02"))
        with pytest.raises(InvalidInputError, match="timezone-aware pandas Timestamp, got '2014-01-02'"):
            append_audit(db, "fill", "o-1", {}, ts="2014-01-02")  # type: ignore[arg-type]
        # another zone is stored in UTC
        append_audit(db, "fill", "o-1", {}, ts=pd.Timestamp("2014-01-02 09:30", tz="America/New_York"))
    assert _rows(embedded)[0][1] == "2014-01-02T14:30:00.000000+00:00"


def test_append_audit_read_only_transaction_is_refused(embedded: EmbeddedStore) -> None:
    with (
        embedded.transaction(schema=AUDIT_SCHEMA, read_only=True) as db,
        pytest.raises(InvalidInputError, match="inside a write transaction"),
    ):
        append_audit(db, "fill", "o-1", {})


def test_append_audit_many_one_bad_record_writes_none(embedded: EmbeddedStore) -> None:
    good = ("fill", "o-1", {"price": "1"})
    with embedded.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
        with pytest.raises(InvalidInputError, match=r"audit record 2 \(fill o-3\): the payload is not canonical JSON"):
            append_audit_many(db, [good, good, ("fill", "o-3", {"price": float("nan")})])
        with pytest.raises(InvalidInputError, match=r"audit record 1: expected \(kind, subject, payload\)"):
            append_audit_many(db, [good, ("fill", "o-2")])  # type: ignore[list-item]
        assert append_audit_many(db, []) == range(1, 1)
        assert append_audit_many(db, [good, good]) == range(1, 3)
    assert [r[0] for r in _rows(embedded)] == [1, 2]


def test_checkpoints_are_rfc6962_roots_written_with_the_record_that_completes_them(store: BarStore) -> None:
    with store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
        _append_rows(db, [("fill", f"o-{i}", {"i": i}) for i in range(3)], ts=TS, every=4)
    with pytest.raises(RuntimeError, match="the change failed"):
        _fails_after(store, lambda db: _append_rows(db, [("fill", "o-3", {"i": 3})], ts=TS, every=4))

    def checkpoints() -> list[tuple[Any, ...]]:
        with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
            return db.rows("SELECT seq_end, root, block_root, peaks FROM {t}audit_checkpoints ORDER BY seq_end")

    assert checkpoints() == []  # the record that completed the block was rolled back, and its checkpoint
    for i in range(3, 27):  # one record per transaction, as the order manager appends
        with store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
            _append_rows(db, [("fill", f"o-{i}", {"i": i})], ts=TS, every=4)
    with store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:  # a bulk write across blocks
        _append_rows(db, [("fill", f"o-{i}", {"i": i}) for i in range(27, 41)], ts=TS, every=4)
    leaves = [_leaf(r[6]) for r in _rows(store)]
    found = checkpoints()
    assert [int(c[0]) for c in found] == list(range(4, 41, 4))
    for seq_end, root, block_root, peaks in found:
        assert root == _mth(leaves[:seq_end]).hex(), seq_end
        assert block_root == _mth(leaves[seq_end - 4 : seq_end]).hex()
        sizes = [1 << b for b in range(seq_end.bit_length() - 1, -1, -1) if seq_end >> b & 1]
        starts = np.cumsum([0, *sizes])
        assert json.loads(peaks) == [_mth(leaves[a : a + n]).hex() for a, n in zip(starts, sizes, strict=False)]


def test_concurrent_appenders_never_share_a_seq(store: BarStore) -> None:
    # no advisory lock: on PostgreSQL only the head row's FOR UPDATE serialises them
    errors: list[BaseException] = []

    def append(name: str) -> None:
        try:
            for i in range(25):
                with store.transaction(schema=AUDIT_SCHEMA) as db:
                    append_audit(db, "fill", f"{name}-{i}", {"i": i})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(name,)) for name in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = _rows(store)
    assert [r[0] for r in rows] == list(range(1, 76))
    assert all(rows[i][5] == rows[i - 1][6] for i in range(1, len(rows)))
    assert _head(store) == (75, rows[-1][6])


def test_embedded_write_transactions_begin_immediate(embedded: EmbeddedStore) -> None:
    # the embedded store's appenders rely on it: the write slot is taken when the transaction begins
    statements: list[str] = []
    embedded.connection.set_trace_callback(statements.append)
    try:
        with embedded.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
            append_audit(db, "fill", "o-1", {})
    finally:
        embedded.connection.set_trace_callback(None)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE"], statements
