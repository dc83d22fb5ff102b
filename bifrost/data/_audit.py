"""The audit trail's writer: an append-only, hash-chained log with Merkle checkpoints, in the store.

Any package records what it changed by calling `append_audit` inside its own write
transaction (DESIGN.md, "Storage"): the record commits with the change or is rolled back
with it, and no package needs to import ``compliance``, which reads, verifies and proves
the log (`bifrost.compliance.verify_audit`, `bifrost.compliance.prove_inclusion`).

The ``audit`` schema (append only: a released migration never changes):

1. ``audit_log``: ``seq`` (1, 2, ...: the primary key), ``ts`` (ISO 8601 text, UTC),
   ``kind`` (``order.event``, ``fill``, ``risk.alert``, ``job.run``, ...), ``subject`` (what
   the record is about: an order id, a portfolio, a run id), ``payload`` (canonical JSON
   text), ``prev_hash`` (the previous record's ``hash``; 64 zeros for record 1) and
   ``hash``: SHA-256, in hex, over the canonical JSON of ``{seq, ts, kind, subject,
   payload, prev_hash}`` (the payload as the JSON object it is). Canonical JSON: keys
   sorted, no spaces (``,`` and ``:``), UTF-8 as is (``ensure_ascii=False``), no NaN or
   infinity; Decimals and Timestamps as text. ``audit_head``: one row holding the newest
   record's ``seq`` and ``hash`` and the checkpoint interval (``every``).
   ``audit_checkpoints``: a Merkle root every `CHECKPOINT_EVERY` records.

Appenders are serialised: on SQLite the write transaction already holds the database's one
write slot (the embedded store begins every write ``IMMEDIATE``); on PostgreSQL the head
row is locked ``FOR UPDATE``, so that two transactions never take the same ``seq`` and an
append costs O(1) whatever the log's length.

Checkpoints follow Crosby & Wallach's history trees (S. A. Crosby and D. S. Wallach,
"Efficient Data Structures for Tamper-Evident Logging", USENIX Security 2009) with the
tree of RFC 6962 ("Certificate Transparency", §2.1; RFC 9162 §2.1): leaf = SHA-256(0x00
|| record hash), node = SHA-256(0x01 || left || right), the tree over records 1..n split
at the largest power of two below n. The record that completes a block of ``every``
records writes, in its own transaction, the checkpoint ``(seq_end, root, block_root,
peaks, ts)``: the root of the tree over records 1..seq_end, the root of the block's own
perfect subtree, and the perfect subtrees' roots (the peaks, largest first) that the next
checkpoint extends without reading older records. An inclusion proof of one record is
then a few KB: its audit path to a checkpoint root (`bifrost.compliance.prove_inclusion`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from enum import Enum
from json.encoder import encode_basestring
from typing import Any, Final

import numpy as np
import pandas as pd

from bifrost.data._schema import Migration, Schema, StateDb, register_schema
from bifrost.errors import InvalidInputError

__all__ = [
    "AUDIT_SCHEMA",
    "CHECKPOINT_EVERY",
    "GENESIS_HASH",
    "append_audit",
    "append_audit_many",
    "canonical_json",
    "fold_peaks",
    "leaf_hash",
    "node_hash",
    "push_peak",
    "record_hash",
    "record_text",
    "subtree_root",
    "ts_text",
]

CHECKPOINT_EVERY: Final = 1024  # records per Merkle checkpoint (a power of two)
GENESIS_HASH: Final = "0" * 64  # record 1's prev_hash
MAX_SUBJECT_CHARS: Final = 200
MAX_PAYLOAD_CHARS: Final = 1_000_000

_KIND_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_KINDS_SEEN: set[str] = set()  # kinds already checked (a handful): the check once each

AUDIT_SCHEMA = register_schema(
    Schema(
        "audit",
        (
            Migration(
                1,
                f"""
                CREATE TABLE {{t}}audit_log (
                    seq {{bigint}} PRIMARY KEY, ts TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
                    payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
                );
                CREATE TABLE {{t}}audit_head (
                    id INTEGER PRIMARY KEY CHECK (id = 1), seq {{bigint}} NOT NULL, hash TEXT NOT NULL,
                    every INTEGER NOT NULL
                );
                INSERT INTO {{t}}audit_head (id, seq, hash, every) VALUES (1, 0, '{GENESIS_HASH}', {CHECKPOINT_EVERY});
                CREATE TABLE {{t}}audit_checkpoints (
                    seq_end {{bigint}} PRIMARY KEY, root TEXT NOT NULL, block_root TEXT NOT NULL,
                    peaks TEXT NOT NULL, ts TEXT NOT NULL
                )
                """,
            ),
        ),
    )
)


# -- canonical JSON and the hashes ----------------------------------------------------
def _default(value: object) -> object:
    # what JSON has no type for, as the audit trail writes it: exact text, never a float
    if isinstance(value, Decimal):
        return str(value)
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON")


_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)


def canonical_json(value: object) -> str:
    """Return ``value`` as canonical JSON text: sorted keys, no spaces, UTF-8 as is, no NaN.

    Decimals, timestamps and dates are written as text; numpy scalars as plain numbers.

    Raises
    ------
    InvalidInputError
        If ``value`` holds something JSON cannot say (an object, NaN, infinity, a key that
        is not text).

    Examples
    --------
    >>> from decimal import Decimal
    >>> canonical_json({"qty": Decimal("1.50"), "b": [1, "é"], "a": None})
    '{"a":null,"b":[1,"é"],"qty":"1.50"}'
    """
    try:
        text = _ENCODER.encode(value)
        text.encode("utf-8")  # a lone surrogate cannot be stored or hashed
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidInputError(f"not canonical JSON: {exc}") from exc
    return text


def record_hash(seq: int, ts: str, kind: str, subject: str, payload: str, prev_hash: str) -> str:
    """Return a record's hash: SHA-256 hex of the canonical JSON of its fields.

    ``payload`` is the record's canonical JSON text, embedded as the object it is; the
    text is built directly (the verifier hashes the stored text without parsing it).

    Examples
    --------
    >>> fields = {"seq": 1, "ts": "2026-12-01T00:00:00.000000+00:00", "kind": "fill", "subject": "o-1"}
    >>> payload = canonical_json({"price": "37.84"})
    >>> h = record_hash(**fields, payload=payload, prev_hash=GENESIS_HASH)
    >>> whole = canonical_json({**fields, "payload": {"price": "37.84"}, "prev_hash": GENESIS_HASH})
    >>> h == hashlib.sha256(whole.encode()).hexdigest()
    True
    """
    return hashlib.sha256(record_text(seq, ts, kind, subject, payload, prev_hash).encode("utf-8")).hexdigest()


def record_text(seq: int, ts: str, kind: str, subject: str, payload: str, prev_hash: str) -> str:
    """Return the canonical JSON text a record's hash is taken over (`record_hash`)."""
    return (
        f'{{"kind":{encode_basestring(kind)},"payload":{payload},"prev_hash":"{prev_hash}",'
        f'"seq":{seq},"subject":{encode_basestring(subject)},"ts":{encode_basestring(ts)}}}'
    )


def leaf_hash(record_hash_hex: str) -> bytes:
    """Return the Merkle leaf of a record: SHA-256(0x00 || its hash's 32 bytes) (RFC 6962)."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(record_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return a Merkle node: SHA-256(0x01 || left || right) (RFC 6962)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def subtree_root(leaves: Sequence[bytes]) -> bytes:
    """Return the root of a perfect subtree over ``leaves`` (their count a power of two)."""
    level = list(leaves)
    if not level or len(level) & (len(level) - 1):
        raise InvalidInputError(f"a perfect subtree has a power of two leaves, got {len(level)}")
    sha = hashlib.sha256
    while len(level) > 1:
        level = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def push_peak(peaks: list[tuple[int, bytes]], size: int, root: bytes) -> None:
    """Add a perfect subtree of ``size`` leaves on the right of ``peaks`` (sizes, roots), merging equals."""
    peaks.append((size, root))
    while len(peaks) >= 2 and peaks[-1][0] == peaks[-2][0]:
        (n, right), (_, left) = peaks.pop(), peaks.pop()
        peaks.append((2 * n, node_hash(left, right)))


def fold_peaks(peaks: Sequence[bytes]) -> bytes:
    """Return the RFC 6962 root of a tree from its peaks (largest first): folded from the right.

    No peaks is the empty tree: SHA-256 of nothing.
    """
    if not peaks:
        return hashlib.sha256(b"").digest()
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = node_hash(peak, root)
    return root


def ts_text(ts: object, name: str = "ts") -> str:
    """Return a record's time as the log stores it: ISO 8601 in UTC, to the microsecond.

    Raises
    ------
    InvalidInputError
        If ``ts`` is not a timezone-aware timestamp.
    """
    if ts is pd.NaT or not isinstance(ts, pd.Timestamp | dt.datetime):
        raise InvalidInputError(f"an audit record's {name} is a timezone-aware pandas Timestamp, got {ts!r}")
    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:
        raise InvalidInputError(f"an audit record's {name} must be timezone-aware (UTC), got naive {stamp}")
    return str(stamp.tz_convert("UTC").isoformat(timespec="microseconds"))


# -- appending --------------------------------------------------------------------------
def _checked(kind: object, subject: object, payload: object, index: int) -> tuple[str, str, str]:
    where = f"audit record {index}"
    if not isinstance(kind, str) or (kind not in _KINDS_SEEN and (len(kind) > 64 or _KIND_RE.fullmatch(kind) is None)):
        raise InvalidInputError(
            f"{where}: an audit kind is dotted lower-case words such as 'order.event' (at most 64 characters), "
            f"got {kind!r}"
        )
    if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidInputError(
            f"{where} ({kind}): an audit subject is non-empty text of at most {MAX_SUBJECT_CHARS} characters "
            f"(an order id, a portfolio, a run id), got {subject!r:.120}"
        )
    if _CONTROL_RE.search(subject):
        raise InvalidInputError(f"{where} ({kind}): an audit subject has no control characters, got {subject!r:.120}")
    if not isinstance(payload, Mapping):
        raise InvalidInputError(
            f"{where} ({kind} {subject}): an audit payload is a mapping, got {type(payload).__name__}"
        )
    try:
        text = canonical_json(payload)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where} ({kind} {subject}): the payload is {exc}") from exc
    if len(text) > MAX_PAYLOAD_CHARS:
        raise InvalidInputError(
            f"{where} ({kind} {subject}): an audit payload has at most {MAX_PAYLOAD_CHARS:,} characters of JSON, "
            f"got {len(text):,}"
        )
    if len(_KINDS_SEEN) < 1000:
        _KINDS_SEEN.add(kind)
    return kind, subject, text


def append_audit(
    db: StateDb, kind: str, subject: str, payload: Mapping[str, object], *, ts: pd.Timestamp | None = None
) -> int:
    """Append one record to the audit trail inside the caller's write transaction; return its ``seq``.

    Call it in the transaction that makes the change the record describes, near its end
    (on PostgreSQL the log's head row stays locked until that transaction ends): the record
    commits with the change, or is rolled back with it.

    Parameters
    ----------
    db
        The caller's write transaction (`Store.transaction`).
    kind
        What happened, as dotted lower-case words: ``order.event``, ``order.refused``,
        ``fill``, ``pretrade.decision``, ``book.state``, ``risk.alert``, ``job.run``, ``reconcile``.
    subject
        What it happened to: an order id, a portfolio, a run id (non-empty, one line).
    payload
        The facts, as JSON: text, numbers (finite), booleans, None, lists and mappings with
        text keys; Decimals, timestamps and enums are written as text.
    ts
        When it happened (timezone-aware); default: now.

    Raises
    ------
    InvalidInputError
        If the kind, subject, payload or time is not one the log takes (a NaN, an object
        JSON cannot say); nothing is written.
    StoreError
        If the store cannot be written (from the transaction).

    Examples
    --------
    >>> import tempfile
    >>> from bifrost.data import EmbeddedStore
    >>> with tempfile.TemporaryDirectory() as home:
    ...     store = EmbeddedStore(home)
    ...     with store.transaction(schema=AUDIT_SCHEMA, lock="example") as db:
    ...         append_audit(db, "book.state", "P1", {"state": "halted", "reason": "kill switch"})
    ...     store.close()
    1
    """
    (seq,) = append_audit_many(db, [(kind, subject, payload)], ts=ts)
    return seq


def append_audit_many(
    db: StateDb,
    records: Iterable[tuple[str, str, Mapping[str, object]]],
    *,
    ts: pd.Timestamp | None = None,
) -> range:
    """Append several records (``(kind, subject, payload)`` each) in one go; return their seqs.

    As `append_audit` record by record, with one statement for all of them: every record
    is checked before anything is written, so one bad record writes none.

    Raises
    ------
    InvalidInputError
        If any record is not one the log takes (its place in ``records`` named); nothing is written.
    """
    return _append_rows(db, records, ts=ts, every=CHECKPOINT_EVERY)


def _append_rows(
    db: StateDb,
    records: Iterable[tuple[str, str, Mapping[str, object]]],
    *,
    ts: pd.Timestamp | None,
    every: int,
) -> range:
    # the writer: ``every`` is the checkpoint interval (a power of two; tests pass a small one)
    if db.read_only:
        raise InvalidInputError("the audit trail is appended inside a write transaction, not a read-only one")
    if not isinstance(every, int) or every < 1 or every & (every - 1):
        raise InvalidInputError(f"the checkpoint interval is a power of two, got {every!r}")
    when = ts_text(pd.Timestamp.now(tz="UTC") if ts is None else ts)
    checked = []
    for i, record in enumerate(records):
        if not isinstance(record, tuple) or len(record) != 3:
            raise InvalidInputError(f"audit record {i}: expected (kind, subject, payload), got {record!r:.120}")
        checked.append(_checked(*record, index=i))
    head = db.rows("SELECT seq, hash FROM {t}audit_head WHERE id = 1" + (" FOR UPDATE" if db.postgres else ""))
    first = int(head[0][0]) + 1
    prev = str(head[0][1])
    rows = []
    for seq, (kind, subject, payload) in enumerate(checked, start=first):
        digest = record_hash(seq, when, kind, subject, payload, prev)
        rows.append((seq, when, kind, subject, payload, prev, digest))
        prev = digest
    if not rows:
        return range(first, first)
    db.many(
        "INSERT INTO {t}audit_log (seq, ts, kind, subject, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)", rows
    )
    last = first + len(rows) - 1
    db.run("UPDATE {t}audit_head SET seq = ?, hash = ?, every = ? WHERE id = 1", (last, prev, every))
    block_ends = range(-(-first // every) * every, last + 1, every)
    if block_ends:
        _checkpoint(db, rows, block_ends, every)
    return range(first, last + 1)


def _checkpoint(db: StateDb, rows: Sequence[tuple[Any, ...]], block_ends: range, every: int) -> None:
    # the checkpoints these rows complete, from the previous checkpoint's peaks
    first = int(rows[0][0])
    found = db.rows("SELECT seq_end, peaks FROM {t}audit_checkpoints ORDER BY seq_end DESC LIMIT 1")
    peaks: list[tuple[int, bytes]] = []
    if found:
        done = int(found[0][0])
        sizes = [1 << b for b in range(done.bit_length() - 1, -1, -1) if done >> b & 1]
        peaks = list(zip(sizes, (bytes.fromhex(p) for p in json.loads(found[0][1])), strict=True))
    new_leaves = {int(r[0]): r[6] for r in rows}
    checkpoints = []
    for end in block_ends:
        start = end - every + 1
        stored = (
            [str(h) for (h,) in db.rows(
                "SELECT hash FROM {t}audit_log WHERE seq >= ? AND seq < ? ORDER BY seq", (start, first)
            )]
            if start < first
            else []
        )  # fmt: skip
        hashes = stored + [new_leaves[s] for s in range(max(start, first), end + 1)]
        block = subtree_root([leaf_hash(h) for h in hashes])
        push_peak(peaks, every, block)
        roots = [p for _, p in peaks]
        checkpoints.append(
            (end, fold_peaks(roots).hex(), block.hex(), json.dumps([p.hex() for p in roots]), rows[end - first][1])
        )
    db.many(
        "INSERT INTO {t}audit_checkpoints (seq_end, root, block_root, peaks, ts) VALUES (?, ?, ?, ?, ?)", checkpoints
    )
