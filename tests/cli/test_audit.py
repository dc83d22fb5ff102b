"""`bifrost audit`: verify, head, export, prove, check-proof: exit codes and JSON (the library: tests/compliance)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bifrost.cli import main
from bifrost.data import AUDIT_SCHEMA, EmbeddedStore, append_audit_many
from tests.cli import bifrost

N = 1030  # one checkpoint (1024) and six records after it


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-audit") / "home"
    with EmbeddedStore(path) as store, store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
        ts = pd.Timestamp("2014-12-31 16:00", tz="UTC")
        append_audit_many(db, [("fill", f"o-{i}", {"price": "37.84", "i": i}) for i in range(N)], ts=ts)
    return path


def _run(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    # in-process (the subprocess path is tested once below): exit status, stdout, stderr
    monkeypatch.setenv("BIFROST_HOME", str(home))
    monkeypatch.delenv("BIFROST_DATABASE_URL", raising=False)
    code = main(["audit", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_audit_verify_and_head_as_the_issue_asks(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    done = bifrost(home, "audit", "verify", "--json")
    assert done.returncode == 0, done.stderr
    verified = json.loads(done.stdout)
    assert (verified["ok"], verified["records"], verified["first_bad"]) == (True, N, None)
    head = json.loads(bifrost(home, "audit", "head", "--json").stdout)
    assert head["seq"] == N and len(head["hash"]) == 64 and head["checkpoint_seq"] == 1024
    assert head["hash"] == verified["head_hash"]
    code, out, _ = _run(home, monkeypatch, capsys, "verify")
    assert code == 0 and out.startswith(f"audit trail intact: {N:,} record(s)") and out.count("\n") == 1, out


def test_cli_audit_verify_tampered_exits_1_naming_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    with EmbeddedStore(home) as store:
        with store.transaction(schema=AUDIT_SCHEMA, lock="audit-test") as db:
            append_audit_many(db, [("fill", f"o-{i}", {"i": i}) for i in range(5)])
        head = json.loads(_run(home, monkeypatch, capsys, "head", "--json")[1])["hash"]
        with store.transaction(schema=AUDIT_SCHEMA, lock="tamper") as db:
            db.run("DELETE FROM {t}audit_log WHERE seq = 5")
            db.run("UPDATE {t}audit_head SET seq = 4, hash = (SELECT hash FROM {t}audit_log WHERE seq = 4)")
    assert _run(home, monkeypatch, capsys, "verify", "--json")[0] == 0  # the head was cut back too
    code, out, _ = _run(home, monkeypatch, capsys, "verify", "--expect-head", head, "--json")
    assert code == 1 and json.loads(out)["first_bad"] == {"seq": 5, "problem": "truncated"}
    assert json.loads(out)["ok"] is False
    code, out, _ = _run(home, monkeypatch, capsys, "verify", "--expect-head", head)
    assert code == 1 and out.startswith("audit trail NOT intact: record 5 truncated: ") and out.count("\n") == 1


def test_cli_audit_prove_and_check_proof_exit_codes(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    head = json.loads(_run(home, monkeypatch, capsys, "head", "--json")[1])
    proof_file = tmp_path / "proof.json"
    code, out, _ = _run(home, monkeypatch, capsys, "prove", "17", "--out", str(proof_file))
    assert code == 0 and out.startswith("wrote the proof of record 17 against the checkpoint of 1024 records")
    proof = json.loads(proof_file.read_text())
    assert (
        proof["record"]["seq"] == 17
        and proof["root"] == head["checkpoint_root"]
        and len(proof_file.read_bytes()) < 8000
    )
    code, out, _ = _run(
        home, monkeypatch, capsys, "check-proof", str(proof_file), "--root", head["checkpoint_root"], "--json"
    )
    assert code == 0 and json.loads(out) == {
        "valid": True,
        "seq": 17,
        "tree_size": 1024,
        "root": head["checkpoint_root"],
    }
    code, out, _ = _run(home, monkeypatch, capsys, "check-proof", str(proof_file), "--root", head["root"])
    assert code == 1 and out.startswith("INVALID: record 17")  # another root
    proof["record"]["payload"]["price"] = "1.00"
    (tmp_path / "changed.json").write_text(json.dumps(proof))
    changed = str(tmp_path / "changed.json")
    assert _run(home, monkeypatch, capsys, "check-proof", changed, "--root", head["checkpoint_root"])[0] == 1
    code, out, _ = _run(home, monkeypatch, capsys, "prove", str(N))  # after the newest checkpoint: the tree now
    assert code == 0 and json.loads(out)["root"] == head["root"] and json.loads(out)["checkpoint"] is False
    (tmp_path / "newest.json").write_text(out)
    assert _run(home, monkeypatch, capsys, "check-proof", str(tmp_path / "newest.json"), "--root", head["root"])[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check-proof", "nosuch.json", "--root", "0" * 64), "nosuch.json: cannot read the proof"),
        (("check-proof", "{garbage}", "--root", "0" * 64), "not a JSON proof"),
        (("check-proof", "{list}", "--root", "0" * 64), "an inclusion proof is a JSON object, got list"),
        (("check-proof", "{missing}", "--root", "0" * 64), "an inclusion proof needs 'ts' (str); it is missing"),
        (("check-proof", "{nan}", "--root", "0" * 64), "not a JSON proof: NaN is not JSON"),
        (("prove", "99999"), "the audit trail has no record 99999"),
        (("prove", "0"), "seq is a record's sequence number, an integer from 1 to 9223372036854775807, got 0"),
        (("prove", str(2**63)), "seq is a record's sequence number, an integer from 1 to 9223372036854775807"),
        (("export", "--start", str(2**63)), "start is a record's sequence number, an integer from 1"),
        (("verify", "--expect-head", "abc"), "expect_head is a SHA-256 hash"),
        (("export", "--start", "5", "--end", "2"), "end (2) is before start (5)"),
    ],
)
def test_cli_audit_bad_input_exits_2_with_one_line(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    files = {"{garbage}": "{not json", "{list}": "[1, 2]", "{missing}": '{"record": {"seq": 1}}', "{nan}": '{"a": NaN}'}
    for name, text in files.items():
        (tmp_path / f"{name.strip('{}')}.json").write_text(text)
    resolved = [str(tmp_path / f"{a.strip('{}')}.json") if a in files else a for a in args]
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(home, monkeypatch, capsys, *resolved)
    assert code == 2 and err.count("\n") == 1 and err.startswith("bifrost: error: "), err
    assert message in err, err


def test_cli_audit_export_writes_json_lines(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(home, monkeypatch, capsys, "export", "--start", "1029")
    assert code == 0 and [json.loads(line)["seq"] for line in out.splitlines()] == [1029, 1030]
    target = tmp_path / "all.jsonl"
    code, out, _ = _run(home, monkeypatch, capsys, "export", "--out", str(target))
    assert code == 0 and out == f"wrote {N:,} record(s) to {target}\n"
    lines = target.read_text().splitlines()
    assert len(lines) == N and json.loads(lines[0])["payload"] == {"i": 0, "price": "37.84"}


def test_cli_audit_check_proof_needs_a_root_to_trust(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a proof checked only against the root it carries proves nothing: a forger writes both (found by QA)
    (tmp_path / "p.json").write_text("{}")
    code, _, err = _run(home, monkeypatch, capsys, "check-proof", str(tmp_path / "p.json"))
    assert code == 2 and err.count("\n") == 1 and "Missing option '--root'" in err, err
