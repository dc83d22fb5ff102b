"""notebooks/07_compliance: the rules file, sma_cross plain and under the rules, what they blocked, a dry run."""

from __future__ import annotations

import pytest

from bifrost.compliance import parse_rules
from bifrost.data import EmbeddedStore
from bifrost.strategy import Commission, FillModel, backtest
from tests.notebooks._execute import Executed, execute

PARAMS = {"fast": 10, "slow": 30, "size": 0.3, "size_type": "percent"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    folder = tmp_path_factory.mktemp("compliance")
    return execute("07_compliance", folder, home=str(folder / "home"), start="2012-01-01", fast=10, slow=30, size=0.3,
                   cash=1_000_000.0, commission=0.001, restricted="YHOO", restricted_from="2013-07-01")  # fmt: skip


def test_compliance_rules_file_is_the_one_shown_and_a_typo_names_its_line_and_key(run: Executed) -> None:
    s = run.summary
    text = (run.path.parent / "home" / "compliance.toml").read_text()
    assert s["rules_hash"] == parse_rules(text).hash and s["n_rules"] == 4
    assert text in "".join(run.outputs("text/markdown"))  # the file, shown as it is
    assert s["typo_error"].startswith("compliance.toml:14: rule 'gross' (gross_exposure): unknown key 'max_fracton'")
    assert "did you mean 'max_fraction'?" in s["typo_error"]


def test_compliance_backtests_plain_and_under_the_rules_are_the_librarys(run: Executed) -> None:
    s = run.summary
    rules = parse_rules((run.path.parent / "home" / "compliance.toml").read_text())
    with EmbeddedStore(run.path.parent / "home") as store:
        panel = store.read_panel(["NVDA", "ORCL", "YHOO"], adjustment="split_adjusted")
    costs = FillModel(commission=Commission(percent=0.001))
    plain = backtest(panel, "sma_cross", PARAMS, cash=1_000_000.0, fill=costs)
    ruled = backtest(panel, "sma_cross", PARAMS, cash=1_000_000.0, fill=costs, rules=rules, portfolio="research")
    assert s["plain_final_value"] == plain.final_value and s["rules_final_value"] == ruled.final_value
    assert s["plain_sharpe"] == pytest.approx(plain.metrics["sharpe_ratio"], rel=1e-12)
    assert s["rules_sharpe"] == pytest.approx(ruled.metrics["sharpe_ratio"], rel=1e-12)
    assert (s["plain_trades"], s["rules_trades"]) == (plain.n_trades, ruled.n_trades)
    assert s["rules_final_value"] != s["plain_final_value"]  # the rules changed what the strategy did
    blocked = ruled.compliance
    assert s["blocked"] == len(blocked) > 0 and len(plain.compliance) == 0
    by_rule = blocked["rule"].str.split("; ").explode().value_counts()  # an order two rules block counts for each
    assert s["blocked_by_rule"] == {str(k): int(v) for k, v in by_rule.items()}
    assert set(by_rule.index) <= {"restricted", "gross", "order_notional"} and by_rule.sum() >= len(blocked)
    warned = ruled.compliance_warnings["rule"].str.split("; ").explode().value_counts()
    assert s["warned_by_rule"] == {str(k): int(v) for k, v in warned.items()}


def test_compliance_restricted_list_blocks_only_buys_of_its_name_from_its_effective_date(run: Executed) -> None:
    rules = parse_rules((run.path.parent / "home" / "compliance.toml").read_text())
    with EmbeddedStore(run.path.parent / "home") as store:
        panel = store.read_panel(["NVDA", "ORCL", "YHOO"], adjustment="split_adjusted")
    ruled = backtest(panel, "sma_cross", PARAMS, cash=1_000_000.0, fill=FillModel(commission=Commission(percent=0.001)),
                     rules=rules, portfolio="research")  # fmt: skip
    blocked = ruled.compliance
    restricted = blocked[blocked["rule"].str.contains("restricted")]
    assert len(restricted) and set(restricted["symbol"]) == {"YHOO"} and set(restricted["side"]) == {"buy"}
    assert restricted["ts"].min().date().isoformat() >= "2013-07-01"
    assert run.summary["first_restricted_block"] == restricted["ts"].min().date().isoformat()


def test_compliance_dry_run_blocks_the_fat_finger_and_the_restricted_name_and_passes_the_close(run: Executed) -> None:
    s = run.summary
    assert s["dry_run"] == {"fat_finger": "block", "at_close": "pass", "restricted": "block"}
    # ORCL's last close in the file, 2014-12-31: 44.97; 20% over it is 53.96
    assert s["fat_finger_reason"] == "collar: limit 53.96 is 20.0% from the last price 44.97 (at most 10.0%)"
