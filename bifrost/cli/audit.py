"""``bifrost audit``: verify the audit trail, print its head, export it, prove a record and check a proof.

Exit status: ``verify`` 0 intact, 1 not; ``check-proof`` 0 valid, 1 invalid; 2 for bad input
or an unreadable proof (one line on stderr), as every verb.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bifrost._paths import write_text
from bifrost.cli._common import JsonOpt, echo_json, store

NAME = "audit"
app = typer.Typer(help="The tamper-evident audit trail: verify, head, export, prove, check-proof.")

OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (default: standard output).")]


@app.command("verify")
def audit_verify(
    expect_head: Annotated[
        str | None,
        typer.Option("--expect-head", help="A head hash seen earlier (`bifrost audit head`): detects cut-off records."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Recompute the chain and the Merkle checkpoints; name the first altered, deleted, inserted or reordered record."""
    from bifrost.compliance import verify_audit

    with store() as bars:
        result = verify_audit(bars, expect_head=expect_head)
    if json_out:
        echo_json(result.to_dict())
    else:
        typer.echo(str(result))
    raise typer.Exit(0 if result.ok else 1)


@app.command("head")
def audit_head_cmd(json_out: JsonOpt = False) -> None:
    """The newest record's sequence number and hash, and the newest checkpoint's root."""
    from bifrost.compliance import audit_head

    with store() as bars:
        head = audit_head(bars)
    if json_out:
        echo_json(head.to_dict())
        return
    typer.echo(f"record {head.seq} {head.hash}")
    if head.checkpoint_root is not None:
        typer.echo(f"checkpoint {head.checkpoint_seq} root {head.checkpoint_root}")


@app.command("export")
def audit_export(
    start: Annotated[int | None, typer.Option("--start", help="First record (default: 1).")] = None,
    end: Annotated[int | None, typer.Option("--end", help="Last record, included (default: the newest).")] = None,
    out: OutOpt = None,
) -> None:
    """Write records as JSON lines (each line's hash can be recomputed from it)."""
    from bifrost.compliance import export_audit

    with store() as bars:
        if out is None:
            export_audit(bars, sys.stdout, start=start, end=end)
            return
        count = export_audit(bars, out, start=start, end=end)
    typer.echo(f"wrote {count:,} record(s) to {out}")


@app.command("prove")
def audit_prove(
    seq: Annotated[int, typer.Argument(help="The record's sequence number.")],
    checkpoint: Annotated[
        int | None, typer.Option("--checkpoint", help="Prove against the checkpoint ending at this record.")
    ] = None,
    out: OutOpt = None,
) -> None:
    """An inclusion proof of one record (JSON, a few KB), checked by `bifrost audit check-proof` without the log."""
    from bifrost.compliance import prove_inclusion

    with store() as bars:
        proof = prove_inclusion(bars, seq, checkpoint=checkpoint)
    text = json.dumps(proof, indent=1, ensure_ascii=False, allow_nan=False)
    if out is None:
        typer.echo(text)
        return
    write_text(out, text + "\n", "--out")
    typer.echo(
        f"wrote the proof of record {seq} against the {'checkpoint' if proof['checkpoint'] else 'tree'} of "
        f"{proof['tree_size']} records (root {proof['root']}) to {out}"
    )


@app.command("check-proof")
def audit_check_proof(
    file: Annotated[Path, typer.Argument(help="The proof (JSON from `bifrost audit prove`; - for standard input).")],
    root: Annotated[
        str,
        typer.Option(
            "--root",
            help="The root you trust (a checkpoint root or `bifrost audit head`'s, obtained apart from the proof); "
            "a proof checked against its own root only proves it agrees with itself.",
        ),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Check an inclusion proof against a root you trust: exit 0 valid, 1 invalid, 2 unreadable."""
    from bifrost.compliance import check_proof, read_proof

    proof = read_proof(file)
    valid = check_proof(proof, root=root)
    record = proof["record"]
    if json_out:
        echo_json({"valid": valid, "seq": record["seq"], "tree_size": proof["tree_size"], "root": proof["root"]})
    else:
        what = f"record {record['seq']} in the tree of {proof['tree_size']} records, root {proof['root']}"
        typer.echo(f"valid: {what}" if valid else f"INVALID: {what}")
    raise typer.Exit(0 if valid else 1)
