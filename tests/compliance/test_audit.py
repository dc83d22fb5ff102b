"""Verifying and proving the audit trail: tampering by SQL on the stored rows, inclusion proofs, export."""

from __future__ import annotations

import copy
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bifrost.compliance import (
    AuditVerification,
    BadRecord,
    audit_head,
    check_proof,
    export_audit,
    prove_inclusion,
    verify_audit,
)
from bifrost.data import AUDIT_SCHEMA, BarStore, EmbeddedStore, StateDb, append_audit_many
from bifrost.data._audit import _append_rows, record_hash
from bifrost.errors import AuditError, InvalidInputError

TS = pd.Timestamp("2014-12-31 16:00", tz="UTC")
EVERY = 4  # checkpoints every 4 records here: 42 records, checkpoints 4..40, records 41 and 42 after them
RECORDS = 42


def _write(store: BarStore, n: int = RECORDS, every: int = EVERY) -> None:
    for i in range(n):  # one record per transaction, as the packages append
        with store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
            payload = {"order_id": f"o-{i}", "quantity": str(100 + i), "price": "37.84", "i": i}
            _append_rows(db, [("order.event", f"o-{i}", payload)], ts=TS + pd.Timedelta(seconds=i), every=every)


def _tamper(store: BarStore, *statements: tuple[str, Sequence[object]]) -> None:
    with store.transaction(schema=AUDIT_SCHEMA, lock="tamper") as db:
        for text, params in statements:
            db.run(text, params)


def _row(store: BarStore, seq: int) -> tuple[Any, ...]:
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        return tuple(
            db.rows("SELECT seq, ts, kind, subject, payload, prev_hash, hash FROM {t}audit_log WHERE seq = ?", (seq,))[
                0
            ]
        )


def _renumber(db: StateDb, at: int, by: int) -> None:
    # shift records at..end by ``by`` (through negatives: a primary key is checked row by row on PostgreSQL)
    db.run("UPDATE {t}audit_log SET seq = -(seq + ?) WHERE seq >= ?", (by, at))
    db.run("UPDATE {t}audit_log SET seq = -seq WHERE seq < 0")


def _alter_payload(store: BarStore) -> None:
    _tamper(store, ("UPDATE {t}audit_log SET payload = ? WHERE seq = 10", ('{"i":9,"price":"1.00"}',)))


def _alter_and_rehash(seq: int) -> Callable[[BarStore], None]:
    def tamper(store: BarStore) -> None:
        _, ts, kind, subject, _, prev, _ = _row(store, seq)
        payload = '{"i":9,"price":"1.00"}'
        forged = record_hash(seq, ts, kind, subject, payload, prev)
        _tamper(store, ("UPDATE {t}audit_log SET payload = ?, hash = ? WHERE seq = ?", (payload, forged, seq)))

    return tamper


def _delete(store: BarStore) -> None:
    _tamper(store, ("DELETE FROM {t}audit_log WHERE seq = 10", ()))


def _delete_and_renumber(store: BarStore) -> None:
    with store.transaction(schema=AUDIT_SCHEMA, lock="tamper") as db:
        db.run("DELETE FROM {t}audit_log WHERE seq = 10", ())
        _renumber(db, 11, -1)
        db.run("UPDATE {t}audit_head SET seq = seq - 1")


def _insert(store: BarStore) -> None:
    # a well-forged record put before record 10: chained to record 9, with a right hash of its own
    _, _, kind, _, _, _, _ = _row(store, 10)
    prev = _row(store, 9)[6]
    ts, payload = "2014-12-31T16:00:09.500000+00:00", '{"i":-1,"price":"1.00"}'
    with store.transaction(schema=AUDIT_SCHEMA, lock="tamper") as db:
        _renumber(db, 10, 1)
        db.run(
            "INSERT INTO {t}audit_log (seq, ts, kind, subject, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (10, ts, kind, "forged", payload, prev, record_hash(10, ts, kind, "forged", payload, prev)),
        )


def _append_forged(store: BarStore) -> None:
    # a record after the newest, chained to it, not written by the log (its head does not know it)
    _, _, kind, _, _, _, last = _row(store, RECORDS)
    ts, payload, seq = "2014-12-31T17:00:00.000000+00:00", "{}", RECORDS + 1
    _tamper(
        store,
        (
            "INSERT INTO {t}audit_log (seq, ts, kind, subject, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, kind, "forged", payload, last, record_hash(seq, ts, kind, "forged", payload, last)),
        ),
    )


def _swap(store: BarStore) -> None:
    _tamper(
        store,
        ("UPDATE {t}audit_log SET seq = -1 WHERE seq = 10", ()),
        ("UPDATE {t}audit_log SET seq = 10 WHERE seq = 20", ()),
        ("UPDATE {t}audit_log SET seq = 20 WHERE seq = -1", ()),
    )


def _swap_neighbours(store: BarStore) -> None:
    _tamper(
        store,
        ("UPDATE {t}audit_log SET seq = -1 WHERE seq = 10", ()),
        ("UPDATE {t}audit_log SET seq = 10 WHERE seq = 11", ()),
        ("UPDATE {t}audit_log SET seq = 11 WHERE seq = -1", ()),
    )


def _cut_newest(store: BarStore) -> None:
    _tamper(store, ("DELETE FROM {t}audit_log WHERE seq > 40", ()))


def _cut_newest_and_head(store: BarStore) -> None:
    # what a careful tamperer does: the head row is set back too; only --expect-head tells
    new_head = _row(store, 40)[6]
    _tamper(
        store,
        ("DELETE FROM {t}audit_log WHERE seq > 40", ()),
        ("UPDATE {t}audit_head SET seq = 40, hash = ?", (new_head,)),
    )


def _rewrite_from(seq: int) -> Callable[[BarStore], None]:
    # alter one record and rehash every record after it, the head row too: only a checkpoint tells
    def tamper(store: BarStore) -> None:
        with store.transaction(schema=AUDIT_SCHEMA, lock="tamper") as db:
            rows = db.rows(
                "SELECT seq, ts, kind, subject, payload, prev_hash FROM {t}audit_log WHERE seq >= ? ORDER BY seq",
                (seq,),
            )
            prev = rows[0][5]
            for i, (s, ts, kind, subject, payload, _) in enumerate(rows):
                payload = '{"i":9,"price":"1.00"}' if i == 0 else payload
                digest = record_hash(s, ts, kind, subject, payload, prev)
                db.run(
                    "UPDATE {t}audit_log SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    (payload, prev, digest, s),
                )
                prev = digest
            db.run("UPDATE {t}audit_head SET hash = ?", (prev,))

    return tamper


def _delete_checkpoint(store: BarStore) -> None:
    _tamper(store, ("DELETE FROM {t}audit_checkpoints WHERE seq_end = 12", ()))


def _alter_checkpoint(store: BarStore) -> None:
    _tamper(store, ("UPDATE {t}audit_checkpoints SET root = ? WHERE seq_end = 12", ("ab" * 32,)))


# (tampering, verify's expect_head from before it, the seq and problem verify must name)
CASES: list[tuple[str, Callable[[BarStore], None], bool, int, str]] = [
    ("alter a payload", _alter_payload, False, 10, "altered"),
    ("alter and rehash one record", _alter_and_rehash(10), False, 10, "altered"),
    ("alter and rehash the newest record", _alter_and_rehash(RECORDS), False, RECORDS, "altered"),
    ("delete one", _delete, False, 10, "deleted"),
    ("delete one and renumber the rest", _delete_and_renumber, False, 10, "deleted"),
    ("insert one (renumbering the rest)", _insert, False, 10, "inserted"),
    ("append a forged record", _append_forged, False, RECORDS + 1, "inserted"),
    ("swap two", _swap, False, 10, "reordered"),
    ("swap two neighbours", _swap_neighbours, False, 10, "reordered"),
    ("cut the newest off", _cut_newest, False, 41, "truncated"),
    ("cut the newest off and the head with them", _cut_newest_and_head, True, 41, "truncated"),
    ("rewrite the chain from record 10 on", _rewrite_from(10), False, 9, "altered"),
    ("delete a checkpoint", _delete_checkpoint, False, 9, "deleted"),
    ("alter a checkpoint", _alter_checkpoint, False, 9, "altered"),
]


def _snapshot(store: BarStore) -> dict[str, list[tuple[Any, ...]]]:
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        return {t: db.rows(f"SELECT * FROM {{t}}{t}") for t in ("audit_log", "audit_head", "audit_checkpoints")}


def _restore(store: BarStore, saved: dict[str, list[tuple[Any, ...]]]) -> None:
    with store.transaction(schema=AUDIT_SCHEMA, lock="tamper") as db:
        for table, rows in saved.items():
            db.run(f"DELETE FROM {{t}}{table}")
            if rows:
                db.many(f"INSERT INTO {{t}}{table} VALUES ({', '.join('?' * len(rows[0]))})", rows)


def test_verify_names_the_first_bad_record_for_each_way_of_tampering(store: BarStore) -> None:
    _write(store)
    intact = verify_audit(store)
    assert intact == AuditVerification(
        ok=True, records=RECORDS, head_seq=RECORDS, head_hash=_row(store, RECORDS)[6], checkpoints=10
    )
    head = audit_head(store).hash
    saved = _snapshot(store)
    for name, tamper, with_head, seq, problem in CASES:
        tamper(store)
        if with_head:
            assert verify_audit(store).ok, f"{name}: undetectable without the head seen before"
        found = verify_audit(store, expect_head=head if with_head else None)
        assert not found.ok and found.first_bad == BadRecord(seq=seq, problem=problem), f"{name}: {found}"  # type: ignore[arg-type]
        assert found.detail, name
        _restore(store, saved)
        assert verify_audit(store).ok, f"restored after {name}"


def test_verify_expect_head_an_older_head_is_still_in_the_log(embedded: EmbeddedStore) -> None:
    _write(embedded, 6)
    older = audit_head(embedded).hash
    with embedded.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
        _append_rows(db, [("fill", "o-9", {})], ts=TS, every=EVERY)
    assert verify_audit(embedded, expect_head=older).ok
    assert verify_audit(embedded, expect_head=older.upper()).ok
    with pytest.raises(InvalidInputError, match="expect_head is a SHA-256 hash: 64 hexadecimal digits, got 'abc'"):
        verify_audit(embedded, expect_head="abc")


def test_verify_an_empty_log_is_intact(embedded: EmbeddedStore) -> None:
    found = verify_audit(embedded)
    assert found.ok and found.records == 0 and found.head_seq == 0 and found.first_bad is None
    head = audit_head(embedded)
    assert (head.seq, head.checkpoint_seq, head.checkpoint_root) == (0, 0, None)
    assert head.root == hashlib.sha256(b"").hexdigest()  # RFC 6962: the empty tree


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path / "home")
    with store:
        yield store


@pytest.fixture(scope="module")
def proved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path_factory.mktemp("audit-proofs") / "home")
    with store:
        _write(store)
        yield store


def _mth(leaves: Sequence[bytes]) -> bytes:
    # RFC 6962 §2.1, from the RFC's text: the reference for the roots
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


PROVED = [(1, None), (4, None), (5, None), (17, None), (40, None), (41, None), (42, None), (1, 4), (3, 4), (9, 12),
          (12, 12), (5, 24)]  # fmt: skip


@pytest.mark.parametrize(("seq", "checkpoint"), PROVED)
def test_prove_inclusion_proofs_are_valid_against_the_rfc6962_root(
    proved: EmbeddedStore, seq: int, checkpoint: int | None
) -> None:
    proof = prove_inclusion(proved, seq, checkpoint=checkpoint)
    size = proof["tree_size"]
    assert size == (checkpoint or (40 if seq <= 40 else RECORDS)) and proof["checkpoint"] is (seq <= 40)
    leaves = [hashlib.sha256(b"\x00" + bytes.fromhex(_row(proved, s)[6])).digest() for s in range(1, size + 1)]
    assert proof["root"] == _mth(leaves).hex()
    assert proof["record"]["seq"] == seq and proof["leaf_index"] == seq - 1
    assert proof["record"]["payload"]["i"] == seq - 1
    assert check_proof(json.loads(json.dumps(proof)))  # as a third party reads it
    assert check_proof(proof, root=proof["root"])
    head = audit_head(proved)
    if checkpoint is None:  # the newest checkpoint's root, or the whole tree's now
        assert proof["root"] == (head.checkpoint_root if seq <= 40 else head.root)


def _changed(proof: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    out = copy.deepcopy(proof)
    change(out)
    return out


def _flip(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


CHANGES: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("payload", lambda p: p["record"]["payload"].update(price="1.00")),
    ("subject", lambda p: p["record"].update(subject="o-99")),
    ("ts", lambda p: p["record"].update(ts="2015-01-01T00:00:00.000000+00:00")),
    ("seq", lambda p: p["record"].update(seq=p["record"]["seq"] + 1)),
    ("record hash", lambda p: p["record"].update(hash=_flip(p["record"]["hash"]))),
    ("a path hash", lambda p: p["path"].__setitem__(2, _flip(p["path"][2]))),
    ("the path cut short", lambda p: p["path"].pop()),
    ("the path grown", lambda p: p["path"].append("00" * 32)),
    ("the root", lambda p: p.update(root=_flip(p["root"]))),
    ("the leaf index", lambda p: p.update(leaf_index=p["leaf_index"] + 1)),
    ("the tree size", lambda p: p.update(tree_size=16)),  # another shape (the root binds the size)
]


@pytest.mark.parametrize(("what", "change"), CHANGES, ids=[c[0] for c in CHANGES])
def test_check_proof_a_changed_proof_is_invalid(proved: EmbeddedStore, what: str, change: Any) -> None:
    proof = prove_inclusion(proved, 9)
    assert check_proof(proof)
    assert not check_proof(_changed(proof, change)), what


def test_check_proof_another_root_given_is_invalid(proved: EmbeddedStore) -> None:
    proof = prove_inclusion(proved, 9)
    assert check_proof(proof, root=audit_head(proved).checkpoint_root)
    assert not check_proof(proof, root=prove_inclusion(proved, 9, checkpoint=12)["root"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("record"), "an inclusion proof needs 'record'"),
        (lambda p: p["record"].update(seq="9"), r"needs 'seq' \(int\)"),
        (lambda p: p["record"].update(seq=True), r"needs 'seq' \(int\)"),
        (lambda p: p["record"].update(payload=[1]), r"needs 'payload' \(Mapping\)"),
        (lambda p: p["record"]["payload"].update(x=float("nan")), "payload is not canonical JSON"),
        (lambda p: p.update(root="xyz"), "'root' is 64 hexadecimal digits"),
        (lambda p: p["path"].append(7), "a list of 64-hex-digit hashes"),
        (lambda p: p.update(path=["00" * 32] * 65), "at most 64 hashes"),
        (lambda p: p.update(version=2), "proofs of version 1, got 2"),  # found by QA: accepted without a word
        (lambda p: p.update(version=True), "proofs of version 1, got True"),
        (lambda p: p.update(note="trust me"), r"has no field\(s\) \['note'\]"),
    ],
)
def test_check_proof_malformed_proof_is_bad_input(proved: EmbeddedStore, change: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        check_proof(_changed(prove_inclusion(proved, 9), change))


def test_prove_inclusion_bad_requests(proved: EmbeddedStore) -> None:
    with pytest.raises(AuditError, match=r"no record 43 \(its records are 1..42\)"):
        prove_inclusion(proved, 43)
    with pytest.raises(
        AuditError, match=r"no checkpoint at record 8 covering record 9 \(checkpoints covering it: 12..40"
    ):
        prove_inclusion(proved, 9, checkpoint=8)
    with pytest.raises(AuditError, match="no checkpoint at record 13"):
        prove_inclusion(proved, 9, checkpoint=13)
    for bad in (0, -1, True, "9", 1.5):
        with pytest.raises(InvalidInputError, match="an integer from 1 to"):
            prove_inclusion(proved, bad)  # type: ignore[arg-type]


def test_prove_inclusion_at_100k_records_is_under_8_kb(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "home") as store:
        with store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
            append_audit_many(
                db,
                [
                    ("fill", f"o-{i}", {"trade_id": f"t-{i}", "quantity": "100", "price": "37.84"})
                    for i in range(100_000)
                ],
            )
        head = audit_head(store)
        assert head.checkpoint_seq == 99_328  # 97 checkpoints of 1024
        for seq in (1, 50_001, 99_328, 99_999):
            proof = prove_inclusion(store, seq)
            assert len(json.dumps(proof)) < 8_000 and len(proof["path"]) <= 17
            assert check_proof(proof, root=head.checkpoint_root if seq <= 99_328 else head.root)


def test_export_audit_writes_json_lines_whose_hashes_recompute(proved: EmbeddedStore, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    assert export_audit(proved, out, start=40) == 3
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["seq"] for r in lines] == [40, 41, 42]
    for r in lines:
        text = json.dumps(r["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert record_hash(r["seq"], r["ts"], r["kind"], r["subject"], text, r["prev_hash"]) == r["hash"]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    stream = io.StringIO()
    assert export_audit(proved, stream, start=2, end=3) == 2
    assert [json.loads(line)["seq"] for line in stream.getvalue().splitlines()] == [2, 3]
    assert export_audit(proved, io.StringIO(), start=100) == 0
    with pytest.raises(InvalidInputError, match=r"end \(2\) is before start \(3\)"):
        export_audit(proved, stream, start=3, end=2)
    with pytest.raises(InvalidInputError, match="start is a record's sequence number"):
        export_audit(proved, stream, start=0)
    with pytest.raises(InvalidInputError, match="is a folder"):
        export_audit(proved, tmp_path)
