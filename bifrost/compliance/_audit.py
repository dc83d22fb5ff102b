"""Reading the audit trail: verify its chain and checkpoints, report its head, export it, prove a record.

The writer is `bifrost.data.append_audit` (every package records through the store);
this module only reads. `verify_audit` recomputes every record's hash from the stored text,
follows the chain and recomputes every Merkle checkpoint, and names the first record that
was altered, deleted, inserted, reordered or cut off. `prove_inclusion` gives one record
with its RFC 6962 audit path to a checkpoint root: a few KB that `check_proof` checks
without the log (Crosby & Wallach, "Efficient Data Structures for Tamper-Evident
Logging", USENIX Security 2009; RFC 6962 §2.1.1, RFC 9162 §2.1.3).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any, Final, Literal

from bifrost._paths import output_path
from bifrost.data import AUDIT_SCHEMA, StateDb, Store
from bifrost.data._audit import (
    GENESIS_HASH,
    canonical_json,
    fold_peaks,
    leaf_hash,
    node_hash,
    push_peak,
    record_hash,
    record_text,
    subtree_root,
)
from bifrost.errors import AuditError, InvalidInputError

__all__ = [
    "PROBLEMS",
    "PROOF_VERSION",
    "AuditHead",
    "AuditVerification",
    "BadRecord",
    "Problem",
    "audit_head",
    "check_proof",
    "export_audit",
    "prove_inclusion",
    "read_proof",
    "verify_audit",
]

Problem = Literal["altered", "deleted", "inserted", "reordered", "truncated"]
PROBLEMS: Final[tuple[Problem, ...]] = ("altered", "deleted", "inserted", "reordered", "truncated")
PROOF_VERSION: Final = 1
_PROOF_KEYS: Final = frozenset(
    {"version", "algorithm", "record", "leaf_index", "tree_size", "root", "checkpoint", "path"}
)
_PAGE: Final = 20_000  # rows per read while streaming the log
_HEX64 = re.compile(r"[0-9a-f]{64}")
_COLUMNS: Final = "seq, ts, kind, subject, payload, prev_hash, hash"


@dataclass(frozen=True, slots=True, kw_only=True)
class BadRecord:
    """The first problem verification found: the record's ``seq`` and what happened to it.

    ``problem``: ``altered`` (its stored fields no longer give its hash, or its successor
    or a checkpoint names another one), ``deleted`` (missing from the sequence),
    ``inserted`` (not written by the log's writer), ``reordered`` (another record's place),
    ``truncated`` (the newest records from ``seq`` on were cut off).
    """

    seq: int
    problem: Problem

    def to_dict(self) -> dict[str, object]:
        """Return ``{"seq": ..., "problem": ...}``."""
        return {"seq": self.seq, "problem": self.problem}


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditVerification:
    """What `verify_audit` found.

    ``records`` counts the rows in the log; ``head_seq`` / ``head_hash`` are its newest
    record's (0 and 64 zeros for an empty log); ``checkpoints`` counts the checkpoint roots
    recomputed and matched; ``detail`` says what was wrong in words ("" when intact).
    """

    ok: bool
    records: int
    head_seq: int
    head_hash: str
    first_bad: BadRecord | None = None
    checkpoints: int = 0
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        """Return the verification as JSON-ready data (what ``bifrost audit verify --json`` prints)."""
        return {
            "ok": self.ok,
            "records": self.records,
            "first_bad": None if self.first_bad is None else self.first_bad.to_dict(),
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "checkpoints": self.checkpoints,
            "detail": self.detail,
        }

    def __str__(self) -> str:
        if self.ok:
            return (
                f"audit trail intact: {self.records:,} record(s), head {self.head_seq} {self.head_hash}, "
                f"{self.checkpoints} checkpoint(s) matched"
            )
        assert self.first_bad is not None
        return f"audit trail NOT intact: record {self.first_bad.seq} {self.first_bad.problem}: {self.detail}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditHead:
    """The log's newest record (``seq``, ``hash``), its newest checkpoint, and the tree's root now.

    ``checkpoint_seq`` is 0 and ``checkpoint_root`` None before the first checkpoint;
    ``root`` is the RFC 6962 root over records 1..seq (what a proof of a record newer than
    the newest checkpoint is checked against).
    """

    seq: int
    hash: str
    checkpoint_seq: int
    checkpoint_root: str | None
    root: str

    def to_dict(self) -> dict[str, object]:
        """Return the head as JSON-ready data (what ``bifrost audit head --json`` prints)."""
        return {
            "seq": self.seq,
            "hash": self.hash,
            "checkpoint_seq": self.checkpoint_seq,
            "checkpoint_root": self.checkpoint_root,
            "root": self.root,
        }


@dataclass(frozen=True, slots=True)
class _Checkpoint:
    seq_end: int
    root: str
    block_root: str
    peaks: tuple[str, ...]


# -- reading the log ------------------------------------------------------------------
def _pages(db: StateDb, after: int, *, upto: int | None = None) -> Iterator[list[tuple[Any, ...]]]:
    # the records after ``after`` in seq order, a page at a time, from one snapshot
    bound = "" if upto is None else " AND seq <= ?"
    while True:
        params: tuple[int, ...] = (after,) if upto is None else (after, upto)
        rows = db.rows(f"SELECT {_COLUMNS} FROM {{t}}audit_log WHERE seq > ?{bound} ORDER BY seq LIMIT {_PAGE}", params)
        if not rows:
            return
        yield rows
        after = int(rows[-1][0])


def _checkpoints(db: StateDb) -> list[_Checkpoint]:
    rows = db.rows("SELECT seq_end, root, block_root, peaks FROM {t}audit_checkpoints ORDER BY seq_end")
    out = []
    for seq_end, root, block_root, peaks in rows:
        try:
            parsed = tuple(str(p) for p in json.loads(peaks))
        except (TypeError, ValueError):
            parsed = ()
        out.append(_Checkpoint(int(seq_end), str(root), str(block_root), parsed))
    return out


def _head_row(db: StateDb) -> tuple[int, str, int]:
    found = db.rows("SELECT seq, hash, every FROM {t}audit_head WHERE id = 1")
    if not found:
        return 0, GENESIS_HASH, 0
    return int(found[0][0]), str(found[0][1]), int(found[0][2])


def _newest(db: StateDb) -> tuple[int, str]:
    found = db.rows("SELECT seq, hash FROM {t}audit_log ORDER BY seq DESC LIMIT 1")
    return (int(found[0][0]), str(found[0][1])) if found else (0, GENESIS_HASH)


def _count(db: StateDb) -> int:
    return int(db.rows("SELECT count(*) FROM {t}audit_log")[0][0])


def _check_hash(value: object, name: str) -> str:
    if not isinstance(value, str) or _HEX64.fullmatch(value.strip().lower()) is None:
        raise InvalidInputError(f"{name} is a SHA-256 hash: 64 hexadecimal digits, got {value!r:.100}")
    return value.strip().lower()


SEQ_MAX = 2**63 - 1  # the largest sequence number a store's integer column holds


def _check_seq(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= SEQ_MAX:
        raise InvalidInputError(
            f"{name} is a record's sequence number, an integer from 1 to {SEQ_MAX}, got {value!r:.100}"
        )
    return value


# -- verification ----------------------------------------------------------------------
class _Found(Exception):
    # the first problem, raised out of the streaming loop
    def __init__(self, seq: int, problem: Problem, detail: str) -> None:
        super().__init__(detail)
        self.bad = BadRecord(seq=seq, problem=problem)
        self.detail = detail


def verify_audit(store: Store, *, expect_head: str | None = None) -> AuditVerification:
    """Recompute the audit trail's chain and checkpoints; name the first record that is wrong.

    Every record's hash is recomputed from the stored text, in ``seq`` order, from one
    snapshot (the log is read a page at a time); each must name its predecessor's hash;
    every checkpoint's block root, peaks and root are recomputed from the records; the
    newest record must be the one the log's head row holds, and no checkpoint may lie
    beyond it.

    Parameters
    ----------
    store
        The store whose log to verify.
    expect_head
        A head hash seen earlier (``bifrost audit head``): it must be among the records,
        else the newest records were cut off (``truncated``) or rewritten.

    Returns
    -------
    AuditVerification
        ``ok`` and the count; ``first_bad`` (``seq``, ``problem``) and ``detail`` when not.

    Raises
    ------
    InvalidInputError
        If ``expect_head`` is not 64 hexadecimal digits.
    """
    expected_head = None if expect_head is None else _check_hash(expect_head, "expect_head")
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        head_seq, head_hash, every = _head_row(db)
        checkpoints = _checkpoints(db)
        newest_seq, newest_hash = _newest(db)
        try:
            records, matched = _verify(db, checkpoints, every, expected_head, (head_seq, head_hash))
        except _Found as found:
            return AuditVerification(
                ok=False,
                records=_count(db),
                head_seq=newest_seq,
                head_hash=newest_hash,
                first_bad=found.bad,
                detail=found.detail,
            )
    return AuditVerification(ok=True, records=records, head_seq=newest_seq, head_hash=newest_hash, checkpoints=matched)


def _verify(
    db: StateDb,
    checkpoints: Sequence[_Checkpoint],
    every: int,
    expect_head: str | None,
    head: tuple[int, str],
) -> tuple[int, int]:
    # the hot loop: one hash per record, two Merkle hashes per record on average
    sha, text = hashlib.sha256, record_text
    by_end = {c.seq_end: c for c in checkpoints}
    _check_checkpoint_places(checkpoints, every)
    expected, last, before_last = 1, GENESIS_HASH, GENESIS_HASH
    leaves: list[bytes] = []
    peaks: list[tuple[int, bytes]] = []
    matched = 0
    seen_expected = expect_head is None or expect_head == GENESIS_HASH
    next_end = every if every else 0
    for page in _pages(db, 0):
        for seq, ts, kind, subject, payload, prev_hash, stored in page:
            if seq != expected:
                raise _Found(expected, "deleted", f"records {expected}..{seq - 1} are missing (the next is {seq})")
            raw = sha(text(seq, ts, kind, subject, payload, prev_hash).encode()).digest()
            digest = raw.hex()
            if digest != stored or prev_hash != last:
                _diagnose(db, seq, (ts, kind, subject, payload, prev_hash, stored), digest, last, before_last)
            if not seen_expected and digest == expect_head:
                seen_expected = True
            if every:
                leaves.append(sha(b"\x00" + raw).digest())
                if seq == next_end:
                    matched += _check_block(by_end.get(seq), leaves, peaks, every)
                    leaves = []
                    next_end += every
            before_last, last = last, digest
            expected += 1
    n = expected - 1
    head_seq, head_hash = head
    if head_seq > n:
        raise _Found(n + 1, "truncated", f"the log's head names record {head_seq} but the newest record is {n}")
    if head_seq < n:
        raise _Found(
            head_seq + 1,
            "inserted",
            f"records {head_seq + 1}..{n} were not written by the log (its head is {head_seq})",
        )
    if n and head_hash != last:
        raise _Found(n, "altered", f"record {n} is not the one the log's head names ({head_hash})")
    beyond = [c.seq_end for c in checkpoints if c.seq_end > n]
    if beyond:
        raise _Found(n + 1, "truncated", f"checkpoint {beyond[0]} covers records beyond the newest one ({n})")
    if not seen_expected:
        raise _Found(
            n + 1,
            "truncated",
            f"the expected head {expect_head} is not in the log (newest: record {n}): the newest records were cut off "
            "or rewritten",
        )
    return n, matched


def _check_checkpoint_places(checkpoints: Sequence[_Checkpoint], every: int) -> None:
    if not checkpoints:
        return
    if not every or every & (every - 1):
        raise _Found(
            checkpoints[0].seq_end, "altered", f"the log's head holds checkpoint interval {every}, not a power of two"
        )
    for i, c in enumerate(checkpoints, start=1):
        if c.seq_end != i * every:
            missing = i * every
            raise _Found(
                missing - every + 1,
                "deleted",
                f"the checkpoint at record {missing} is missing (checkpoints every {every} records; next: {c.seq_end})",
            )


def _check_block(
    checkpoint: _Checkpoint | None, leaves: list[bytes], peaks: list[tuple[int, bytes]], every: int
) -> int:
    block = subtree_root(leaves)
    push_peak(peaks, every, block)
    roots = [p for _, p in peaks]
    size = sum(s for s, _ in peaks)
    start = size - every + 1
    if checkpoint is None:
        raise _Found(start, "deleted", f"the checkpoint at record {size} is missing")
    if (
        checkpoint.block_root != block.hex()
        or checkpoint.peaks != tuple(p.hex() for p in roots)
        or checkpoint.root != fold_peaks(roots).hex()
    ):
        raise _Found(
            start,
            "altered",
            f"records {start}..{size} do not give checkpoint {size}'s root: a record among them was altered and "
            "the chain rehashed after it, or the checkpoint was altered",
        )
    return 1


def _diagnose(
    db: StateDb,
    seq: int,
    fields: tuple[str, str, str, str, str, str],
    digest: str,
    last: str,
    before_last: str,
) -> None:
    # the record at ``seq`` does not follow from the ones before it: say how
    ts, kind, subject, payload, prev_hash, stored = fields

    def at(s: int) -> bool:  # do the row's fields give its stored hash as record s?
        return s >= 1 and record_hash(s, ts, kind, subject, payload, prev_hash) == stored

    if prev_hash == last:
        raise _Found(seq, "altered", f"record {seq}'s stored fields do not give its hash (its content was changed)")
    if digest == stored:
        raise _Found(
            seq - 1,
            "altered",
            f"record {seq} names another predecessor than the stored record {seq - 1} (rewritten with a new hash)",
        )
    if prev_hash == before_last and at(seq - 1):
        raise _Found(seq - 1, "inserted", f"record {seq - 1} was put between records {seq - 2} and {seq} (renumbered)")
    for page in _pages(db, seq):
        for s, ts2, kind2, subject2, payload2, prev2, stored2 in page:
            if prev2 == last and record_hash(seq, ts2, kind2, subject2, payload2, prev2) == stored2:
                raise _Found(seq, "reordered", f"record {seq} is stored at {s}; another record is in its place")
    if at(seq + 1):
        raise _Found(seq, "deleted", f"record {seq} is missing: the records after it were renumbered down")
    raise _Found(seq, "altered", f"record {seq}'s stored fields do not give its hash and it names another predecessor")


# -- the head ----------------------------------------------------------------------------
def audit_head(store: Store) -> AuditHead:
    """Return the log's newest record's ``seq`` and ``hash``, its newest checkpoint and the root now.

    Publish the head (or the checkpoint root) somewhere the log's keepers cannot rewrite:
    ``verify_audit(store, expect_head=...)`` then detects the newest records being cut
    off, and `check_proof` checks a proof against the root.
    """
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        seq, digest, _ = _head_row(db)
        checkpoints = db.rows("SELECT seq_end, root, peaks FROM {t}audit_checkpoints ORDER BY seq_end DESC LIMIT 1")
        done, root, peaks_text = (
            (int(checkpoints[0][0]), str(checkpoints[0][1]), str(checkpoints[0][2])) if checkpoints else (0, None, "[]")
        )
        tail = [
            str(h)
            for (h,) in db.rows("SELECT hash FROM {t}audit_log WHERE seq > ? AND seq <= ? ORDER BY seq", (done, seq))
        ]
    peaks: list[tuple[int, bytes]] = list(
        zip(_sizes(done), (bytes.fromhex(p) for p in json.loads(peaks_text)), strict=False)
    )
    for h in tail:
        push_peak(peaks, 1, leaf_hash(h))
    return AuditHead(
        seq=seq,
        hash=digest,
        checkpoint_seq=done,
        checkpoint_root=root,
        root=fold_peaks([p for _, p in peaks]).hex(),
    )


def _sizes(n: int) -> list[int]:
    # the perfect subtrees of a tree of n leaves, largest first
    return [1 << b for b in range(n.bit_length() - 1, -1, -1) if n >> b & 1]


# -- export ------------------------------------------------------------------------------
def export_audit(
    store: Store, out: str | os.PathLike[str] | IO[str], *, start: int | None = None, end: int | None = None
) -> int:
    """Write the records ``start..end`` (both included; default: all) as JSON lines; return how many.

    One record per line, as canonical JSON of ``{seq, ts, kind, subject, payload, prev_hash,
    hash}`` with the payload as the object it is: each line's hash can be recomputed by
    anyone (`bifrost.data._audit.record_hash`). A path is written to a temporary file and
    renamed into place; a text stream (``sys.stdout``) is written as the records are read.

    Raises
    ------
    InvalidInputError
        If ``start`` or ``end`` is not an integer from 1 to 2**63 - 1, ``end`` is before ``start``, or the
        file cannot be written there.
    """
    lo = 1 if start is None else _check_seq(start, "start")
    hi = None if end is None else _check_seq(end, "end")
    if hi is not None and hi < lo:
        raise InvalidInputError(f"export: end ({hi}) is before start ({lo})")
    if isinstance(out, str | os.PathLike):
        target = output_path(out, "audit export")
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                count = _export(store, fh, lo, hi)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return count
    return _export(store, out, lo, hi)


def _export(store: Store, fh: IO[str], lo: int, hi: int | None) -> int:
    count = 0
    enc = encode_basestring
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        for page in _pages(db, lo - 1, upto=hi):
            fh.write(
                "".join(
                    f'{{"hash":"{h}","kind":{enc(kind)},"payload":{payload},"prev_hash":"{prev}","seq":{seq},'
                    f'"subject":{enc(subject)},"ts":{enc(ts)}}}\n'
                    for seq, ts, kind, subject, payload, prev, h in page
                )
            )
            count += len(page)
    return count


# -- inclusion proofs --------------------------------------------------------------------
def prove_inclusion(store: Store, seq: int, *, checkpoint: int | None = None) -> dict[str, Any]:
    """Return an inclusion proof of record ``seq``: the record and its audit path to a tree root.

    The tree is the newest checkpoint's (or the checkpoint ending at ``checkpoint``); a
    record newer than every checkpoint is proved against the tree over the whole log now
    (``"checkpoint": false``; its root is `audit_head`'s ``root``). The path has one hash per
    level (about 20 at a million records): the proof is a few KB. `check_proof` checks it.

    Returns
    -------
    dict
        ``version``, ``record`` (``seq, ts, kind, subject, payload, prev_hash, hash``),
        ``leaf_index`` (``seq - 1``), ``tree_size``, ``root``, ``checkpoint`` (whether the
        root is a stored checkpoint's) and ``path`` (hex, from the leaf up).

    Raises
    ------
    InvalidInputError
        If ``seq`` (or ``checkpoint``) is not an integer from 1 to 2**63 - 1.
    AuditError
        If the log has no record ``seq``, no checkpoint ``checkpoint`` at or after it, or
        its stored checkpoints do not fit the records (verify the log).
    """
    seq = _check_seq(seq, "seq")
    wanted = None if checkpoint is None else _check_seq(checkpoint, "checkpoint")
    with store.transaction(schema=AUDIT_SCHEMA, read_only=True) as db:
        found = db.rows(f"SELECT {_COLUMNS} FROM {{t}}audit_log WHERE seq = ?", (seq,))
        if not found:
            head, _, _ = _head_row(db)
            raise AuditError(f"the audit trail has no record {seq} (its records are 1..{head})")
        head_seq, _, every = _head_row(db)
        checkpoints = _checkpoints(db)
        if wanted is not None:
            chosen = next((c for c in checkpoints if c.seq_end == wanted), None)
            if chosen is None or wanted < seq:
                ends = [c.seq_end for c in checkpoints if c.seq_end >= seq]
                raise AuditError(
                    f"no checkpoint at record {wanted} covering record {seq}"
                    + (f" (checkpoints covering it: {ends[0]}..{ends[-1]} every {every})" if ends else "")
                )
        else:
            chosen = checkpoints[-1] if checkpoints and checkpoints[-1].seq_end >= seq else None
        tree = _Tree(db, checkpoints, every)
        size = chosen.seq_end if chosen is not None else head_seq
        path = tree.path(seq - 1, size)
        root = chosen.root if chosen is not None else tree.root(size).hex()
    s, ts, kind, subject, payload, prev, digest = found[0]
    return {
        "version": PROOF_VERSION,
        "algorithm": "sha256, RFC 6962 Merkle tree: leaf = H(0x00 || record hash), node = H(0x01 || left || right)",
        "record": {
            "seq": int(s),
            "ts": ts,
            "kind": kind,
            "subject": subject,
            "payload": json.loads(payload),
            "prev_hash": prev,
            "hash": digest,
        },
        "leaf_index": seq - 1,
        "tree_size": size,
        "root": root,
        "checkpoint": chosen is not None,
        "path": [p.hex() for p in path],
    }


class _Tree:
    # subtree roots of the log's tree: whole blocks from their checkpoints, the rest from records
    def __init__(self, db: StateDb, checkpoints: Sequence[_Checkpoint], every: int) -> None:
        self._db = db
        self._every = every
        self._blocks = [bytes.fromhex(c.block_root) for c in checkpoints]
        for i, c in enumerate(checkpoints, start=1):
            if c.seq_end != i * every:
                raise AuditError(
                    f"the audit trail's checkpoints do not fit its records (checkpoint {c.seq_end}, expected "
                    f"{i * every}): run `bifrost audit verify`"
                )
        self._leaves: dict[int, bytes] = {}

    def _leaf(self, index: int) -> bytes:
        if index not in self._leaves:
            lo = index - index % max(self._every, 1)  # the block's records at once
            hi = lo + max(self._every, 1)
            rows = self._db.rows("SELECT seq, hash FROM {t}audit_log WHERE seq > ? AND seq <= ? ORDER BY seq", (lo, hi))
            self._leaves.update((int(s) - 1, leaf_hash(str(h))) for s, h in rows)
            if index not in self._leaves:
                raise AuditError(f"the audit trail has no record {index + 1}: run `bifrost audit verify`")
        return self._leaves[index]

    def mth(self, lo: int, hi: int) -> bytes:
        # the RFC 6962 root of leaves [lo, hi)
        n = hi - lo
        if n == 1:
            return self._leaf(lo)
        every = self._every
        if every and lo % every == 0 and n % every == 0 and not (n & (n - 1)) and hi // every <= len(self._blocks):
            return subtree_root(self._blocks[lo // every : hi // every])
        k = 1 << ((n - 1).bit_length() - 1)
        return node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def root(self, size: int) -> bytes:
        return hashlib.sha256(b"").digest() if size == 0 else self.mth(0, size)

    def path(self, m: int, size: int) -> list[bytes]:
        # RFC 6962 §2.1.1 PATH(m, D[lo:hi]), from the leaf up
        out: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            n = hi - lo
            k = 1 << ((n - 1).bit_length() - 1)
            if m - lo < k:
                out.append(self.mth(lo + k, hi))
                hi = lo + k
            else:
                out.append(self.mth(lo, lo + k))
                lo += k
        out.reverse()
        return out


def check_proof(proof: Mapping[str, Any], *, root: str | None = None) -> bool:
    """Check an inclusion proof from `prove_inclusion`, without the log.

    Recomputes the record's hash from its fields, then the root from its leaf and the
    audit path (RFC 9162 §2.1.3.2); ``root`` given (a checkpoint root obtained elsewhere),
    the proof's root must be it.

    Returns
    -------
    bool
        True if the record hashes to its ``hash`` and the path leads to the root.

    Raises
    ------
    InvalidInputError
        If the proof is not one `prove_inclusion` writes (a field missing or of the wrong
        type), or ``root`` is not 64 hexadecimal digits.
    """
    expected_root = None if root is None else _check_hash(root, "root")
    if not isinstance(proof, Mapping):
        raise InvalidInputError(f"an inclusion proof is a JSON object, got {type(proof).__name__}")
    # a proof of another format, or with fields this one does not read, is refused rather than half-read
    version = proof.get("version", PROOF_VERSION)
    if isinstance(version, bool) or version != PROOF_VERSION:
        raise InvalidInputError(f"this bifrost checks inclusion proofs of version {PROOF_VERSION}, got {version!r:.40}")
    unknown = sorted(str(k) for k in set(proof) - _PROOF_KEYS)
    if unknown:
        raise InvalidInputError(f"an inclusion proof has no field(s) {unknown}; its fields: {sorted(_PROOF_KEYS)}")
    record = _field(proof, "record", Mapping)
    seq = _field(record, "seq", int)
    ts, kind, subject = (_field(record, k, str) for k in ("ts", "kind", "subject"))
    payload = _field(record, "payload", Mapping)
    prev, digest, proof_root = _hex(record, "prev_hash"), _hex(record, "hash"), _hex(proof, "root")
    index, size = _field(proof, "leaf_index", int), _field(proof, "tree_size", int)
    path_items = _field(proof, "path", list)
    if not all(isinstance(p, str) and _HEX64.fullmatch(p) for p in path_items):
        raise InvalidInputError("an inclusion proof's path is a list of 64-hex-digit hashes")
    if len(path_items) > 64:
        raise InvalidInputError(f"an inclusion proof's path has at most 64 hashes, got {len(path_items)}")
    try:
        payload_text = canonical_json(payload)
    except InvalidInputError as exc:
        raise InvalidInputError(f"the proof's record payload is {exc}") from exc
    if record_hash(seq, ts, kind, subject, payload_text, prev) != digest:
        return False
    if index != seq - 1 or not 0 <= index < size:
        return False
    r = leaf_hash(digest)
    fn, sn = index, size - 1
    for item in path_items:
        p = bytes.fromhex(item)
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r.hex() != proof_root:
        return False
    return expected_root is None or proof_root == expected_root


def _field(obj: Mapping[str, Any], name: str, kind: type) -> Any:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    if value is None or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidInputError(
            f"an inclusion proof needs {name!r} ({kind.__name__}), got {value!r:.80}"
            if value is not None
            else f"an inclusion proof needs {name!r} ({kind.__name__}); it is missing"
        )
    return value


def _hex(obj: Mapping[str, Any], name: str) -> str:
    value = _field(obj, name, str)
    if _HEX64.fullmatch(value) is None:
        raise InvalidInputError(f"an inclusion proof's {name!r} is 64 hexadecimal digits, got {value!r:.80}")
    return str(value)


def read_proof(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an inclusion proof written by ``bifrost audit prove`` (JSON).

    Raises
    ------
    InvalidInputError
        If the file cannot be read or is not a JSON object.
    """
    try:
        text = sys.stdin.read() if str(path) == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read the proof: {exc}") from exc
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise InvalidInputError(f"{path}: not a JSON proof: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInputError(f"{path}: an inclusion proof is a JSON object, got {type(value).__name__}")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")
