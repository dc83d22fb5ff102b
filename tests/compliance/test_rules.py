"""The rules file: every validation rule names its line and key and changes nothing; versions, dates, loading."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bifrost.compliance._engine import ComplianceEngine
from bifrost.compliance._kinds import PACKS, RULE_KINDS
from bifrost.compliance._model import BookState, Decision, ProposedOrder
from bifrost.compliance._rules import (
    DEFAULT_RULES_TOML,
    RULES_FILE_NAME,
    RuleSet,
    default_rules,
    load_rules,
    parse_rules,
    rules_file_doc,
)
from bifrost.errors import InvalidInputError, NotFoundError, RulesFileError
from bifrost.portfolio import Side

DOC = Path(__file__).resolve().parents[2] / "docs" / "compliance" / "rules-file.md"
DAY = dt.date(2026, 12, 2)
TS = pd.Timestamp("2026-12-02 15:00", tz="UTC")

GOOD = """\
version = 1

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.10

[[rule]]
id = "restricted"
kind = "restricted_list"
symbols = ["ORCL"]

"""


def write(tmp_path: Path, text: str, name: str = RULES_FILE_NAME) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class InUse:
    """Rules and an engine in use before a bad file is offered: after the refusal, they must be as they were."""

    def __init__(self) -> None:
        self.rules = parse_rules(GOOD, source="good.toml")
        self.engine = ComplianceEngine(self.rules)
        self.order = ProposedOrder(
            portfolio="paper", symbol="ORCL", side=Side.BUY, quantity=Decimal(10), order_type="limit",
            limit_price=Decimal("42.00"),
        )  # fmt: skip
        self.book = BookState(portfolio="paper", ts=TS, positions={}, cash=1e6, equity=1e6, prices={"ORCL": 45.0})
        self.before = self.decide()
        self.versions = [(r.id, r.version) for r in self.rules.rules]

    def decide(self) -> Decision:
        return self.engine.evaluate(self.order, self.book)

    def assert_unchanged(self) -> None:
        assert self.engine.rules is self.rules
        assert [(r.id, r.version) for r in self.rules.rules] == self.versions
        assert [r.id for r in self.rules.rules] == ["collar", "restricted"]
        assert self.decide() == self.before
        assert self.before.verdict == "block" and [r.rule for r in self.before.blocks] == ["restricted"]


@pytest.fixture
def in_use() -> InUse:
    return InUse()


def refused(tmp_path: Path, text: str, in_use: InUse) -> str:
    path = write(tmp_path, text)
    with pytest.raises(RulesFileError) as caught:
        load_rules(path)
    in_use.assert_unchanged()
    message = str(caught.value)
    assert message.startswith(f"{path}:"), message
    return message.removeprefix(f"{path}:")


# --------------------------------------------------------------------------------------------
# validation: one test per rule, each naming the line and the key, each leaving the rules in use as they were


def test_rules_unknown_key_in_rule_names_line_and_suggests(tmp_path: Path, in_use: InUse) -> None:
    text = GOOD.replace("max_deviation = 0.10", "# the fat finger\n\nmax_deviaton = 0.10")
    message = refused(tmp_path, text, in_use)
    assert message.startswith(
        "8: rule 'collar' (price_collar): unknown key 'max_deviaton' (did you mean 'max_deviation'?)"
    ), message


def test_rules_unknown_key_without_close_match_lists_known_keys(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + 'colour = "red"\n', in_use)
    assert message == (
        "13: rule 'restricted' (restricted_list): unknown key 'colour'; restricted_list takes symbols, sides "
        "(and the common keys id, kind, severity, effective_from, effective_to, portfolios, description)"
    )


def test_rules_unknown_top_level_key_suggests(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD.replace('[[rule]]\nid = "restricted"', '[[rules]]\nid = "restricted"'), in_use)
    assert message.startswith("8: unknown top-level key 'rules' (did you mean 'rule'?)"), message


def test_rules_missing_id_names_the_table_line(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD.replace('id = "restricted"\n', ""), in_use)
    assert message.startswith("8: rule #2: missing 'id'"), message


def test_rules_missing_kind_names_the_rule(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD.replace('kind = "restricted_list"\n', ""), in_use)
    assert message.startswith("8: rule 'restricted': missing 'kind'; known kinds: restricted_list,"), message


def test_rules_missing_required_param_names_it(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD.replace("max_deviation = 0.10\n", 'description = "x"\n'), in_use)
    assert message.startswith("3: rule 'collar' (price_collar): missing 'max_deviation'"), message


def test_rules_unknown_kind_lists_known_kinds(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD.replace('"price_collar"', '"price_colar"'), in_use)
    assert message == (
        "5: rule 'collar': unknown kind 'price_colar' (did you mean 'price_collar'?); known kinds: "
        + ", ".join(RULE_KINDS)
    )


@pytest.mark.parametrize(
    ("value", "got"),
    [('"0.10"', "got a string ('0.10')"), ("true", "got a boolean (True)"), ("[0.1]", "got an array ([0.1])")],
)
def test_rules_wrong_type_for_float_names_type(tmp_path: Path, in_use: InUse, value: str, got: str) -> None:
    message = refused(tmp_path, GOOD.replace("max_deviation = 0.10", f"max_deviation = {value}"), in_use)
    assert message == f"6: rule 'collar' (price_collar): 'max_deviation' must be a number, {got}"


def test_rules_float_where_int_wanted_refused(tmp_path: Path, in_use: InUse) -> None:
    text = GOOD + '\n[[rule]]\nid = "rate"\nkind = "order_rate"\nmax_orders = 2.5\n'
    message = refused(tmp_path, text, in_use)
    assert message == "17: rule 'rate' (order_rate): 'max_orders' must be an integer, got a float (2.5)"


@pytest.mark.parametrize("value", ["nan", "+nan", "inf", "-inf"])
def test_rules_nan_and_inf_refused(tmp_path: Path, in_use: InUse, value: str) -> None:
    message = refused(tmp_path, GOOD.replace("max_deviation = 0.10", f"max_deviation = {value}"), in_use)
    assert re.fullmatch(r"6: rule 'collar' \(price_collar\): 'max_deviation' must be a finite number, got -?(nan|inf)",
                        message), message  # fmt: skip


@pytest.mark.parametrize("value", ["1e308", "1e16", "10_000_000_000_000_000", "-1e16"])
def test_rules_absurd_magnitude_refused(tmp_path: Path, in_use: InUse, value: str) -> None:
    text = GOOD + f'\n[[rule]]\nid = "notional"\nkind = "max_order_notional"\nmax_notional_usd = {value}\n'
    message = refused(tmp_path, text, in_use)
    assert message.startswith("17: rule 'notional' (max_order_notional): 'max_notional_usd' = "), message
    assert message.endswith("is too large (at most 1e15 in magnitude)")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "must be > 0 and < 10, got 0"),
        ("-0.1", "must be > 0 and < 10, got -0.1"),
        ("10", "must be > 0 and < 10, got 10"),
    ],
)
def test_rules_value_out_of_bounds_refused(tmp_path: Path, in_use: InUse, value: str, expected: str) -> None:
    message = refused(tmp_path, GOOD.replace("max_deviation = 0.10", f"max_deviation = {value}"), in_use)
    assert message == f"6: rule 'collar' (price_collar): 'max_deviation' {expected}"


def test_rules_warn_at_bounds_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD.replace("max_deviation = 0.10", "max_deviation = 0.10\nwarn_at = 1.0"), in_use)
    assert message == "7: rule 'collar' (price_collar): 'warn_at' must be > 0 and < 1, got 1.0"


def test_rules_value_not_among_choices_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + 'sides = "up"\n', in_use)
    assert message == "13: rule 'restricted' (restricted_list): 'sides' must be one of 'both', 'buy', 'sell', got 'up'"


def test_rules_bad_severity_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + 'severity = "fatal"\n', in_use)
    assert message == "13: rule 'restricted' (restricted_list): 'severity' must be one of 'block', 'warn', got 'fatal'"


@pytest.mark.parametrize("bad", ["Collar", "1collar", "price-collar", "", "a" * 65])
def test_rules_bad_id_syntax_refused(tmp_path: Path, in_use: InUse, bad: str) -> None:
    message = refused(tmp_path, GOOD.replace('id = "collar"', f'id = "{bad}"'), in_use)
    assert message.startswith("4: rule #1: bad 'id' '"), message
    assert message.endswith(
        ": an id is a lowercase letter, then lowercase letters, digits or _ (at most 64 characters)"
    )


def test_rules_non_string_id_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD.replace('id = "collar"', "id = 7"), in_use)
    assert message.startswith("4: rule #1: bad 'id' 7:"), message


def test_rules_effective_to_before_from_refused(tmp_path: Path, in_use: InUse) -> None:
    text = GOOD.replace(
        "max_deviation = 0.10", "max_deviation = 0.10\neffective_from = 2026-07-01\neffective_to = 2026-06-30"
    )
    message = refused(tmp_path, text, in_use)
    assert message == "8: rule 'collar' (price_collar): 'effective_to' 2026-06-30 is before 'effective_from' 2026-07-01"


@pytest.mark.parametrize(
    ("value", "got"),
    [("2026-07-01T00:00:00", "a datetime (2026-07-01T00:00:00)"), ("09:30:00", "a time (09:30:00)"),
     ('"2026-07-01"', "a string ('2026-07-01')")],
)  # fmt: skip
def test_rules_effective_from_must_be_a_date(tmp_path: Path, in_use: InUse, value: str, got: str) -> None:
    message = refused(tmp_path, GOOD + f"effective_from = {value}\n", in_use)
    assert message == (
        f"13: rule 'restricted' (restricted_list): 'effective_from' must be a date (like 2026-06-01, no time of day), "
        f"got {got}"
    )


def test_rules_same_id_overlapping_windows_refused_inclusive_ends(tmp_path: Path, in_use: InUse) -> None:
    text = GOOD.replace("max_deviation = 0.10", "max_deviation = 0.10\neffective_to = 2026-06-30") + (
        '\n[[rule]]\nid = "collar"\nkind = "price_collar"\nmax_deviation = 0.2\neffective_from = 2026-06-30\n'
    )
    message = refused(tmp_path, text, in_use)
    assert message.startswith(
        "15: rule 'collar' (price_collar): its effective window 2026-06-30 to for ever overlaps the version at line 3 "
        "(always to 2026-06-30)"
    ), message


def test_rules_same_id_same_window_other_portfolios_allowed(tmp_path: Path) -> None:
    text = GOOD.replace("max_deviation = 0.10", 'max_deviation = 0.10\nportfolios = ["paper"]') + (
        '\n[[rule]]\nid = "collar"\nkind = "price_collar"\nmax_deviation = 0.2\nportfolios = ["live"]\n'
    )
    rules = load_rules(write(tmp_path, text))
    assert [r.params["max_deviation"] for r in rules.effective("paper", DAY) if r.id == "collar"] == [0.10]
    assert [r.params["max_deviation"] for r in rules.effective("live", DAY) if r.id == "collar"] == [0.2]
    assert [r.id for r in rules.effective("other", DAY)] == ["restricted"]


def test_rules_same_id_overlapping_portfolios_refused(tmp_path: Path, in_use: InUse) -> None:
    text = GOOD.replace("max_deviation = 0.10", 'max_deviation = 0.10\nportfolios = ["paper", "live"]') + (
        '\n[[rule]]\nid = "collar"\nkind = "price_collar"\nmax_deviation = 0.2\nportfolios = ["live"]\n'
    )
    message = refused(tmp_path, text, in_use)
    assert message.startswith(
        "15: rule 'collar' (price_collar): its effective window always to for ever overlaps "
        "the version at line 3 (always to for ever) for a portfolio both apply to"
    ), message


def test_rules_same_id_other_kind_refused(tmp_path: Path, in_use: InUse) -> None:
    text = GOOD.replace("max_deviation = 0.10", "max_deviation = 0.10\neffective_to = 2026-06-30") + (
        '\n[[rule]]\nid = "collar"\nkind = "max_order_quantity"\nmax_shares = 10\neffective_from = 2026-07-01\n'
    )
    message = refused(tmp_path, text, in_use)
    assert message == (
        "15: rule 'collar' (max_order_quantity): the version at line 3 is of kind price_collar; the versions of one "
        "id must be of one kind - give this rule another id"
    )


def test_rules_description_too_long_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + f'description = "{"x" * 201}"\n', in_use)
    assert message == "13: rule 'restricted' (restricted_list): 'description' is 201 characters; at most 200"


def test_rules_empty_portfolios_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + "portfolios = []\n", in_use)
    assert message.startswith("13: rule 'restricted' (restricted_list): 'portfolios' is empty"), message


def test_rules_string_list_with_a_number_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD.replace('symbols = ["ORCL"]', 'symbols = ["ORCL", 7]'), in_use)
    assert message == (
        "11: rule 'restricted' (restricted_list): 'symbols' must be a list of strings (like [\"AAPL\", \"MSFT\"]), "
        "got an integer (7) in the list"
    )


def test_rules_string_map_with_a_number_refused_at_its_subtable(tmp_path: Path, in_use: InUse) -> None:
    text = (
        GOOD
        + '\n[[rule]]\nid = "issuer"\nkind = "issuer_concentration"\nmax_fraction = 0.2\n\n[rule.issuers]\nGOOGL = 1\n'
    )
    message = refused(tmp_path, text, in_use)
    assert (
        message
        == "19: rule 'issuer' (issuer_concentration): 'issuers': 'GOOGL' must map to a string, got an integer (1)"
    )


@pytest.mark.parametrize(("value", "shown"), [("2", "2"), ("1.0", "1.0"), ('"1"', "'1'"), ("true", "True")])
def test_rules_version_other_than_1_refused(tmp_path: Path, in_use: InUse, value: str, shown: str) -> None:
    message = refused(tmp_path, GOOD.replace("version = 1", f"version = {value}"), in_use)
    assert message == f"1: unsupported rules file version {shown}; this Bifrost reads version = 1"


def test_rules_rule_not_a_table_array_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, "version = 1\nrule = 3\n", in_use)
    assert message == "2: 'rule' must be [[rule]] tables (an array of tables), got an integer (3)"


def test_rules_toml_syntax_error_takes_line_from_tomllib(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD.replace("max_deviation = 0.10", "max_deviation = "), in_use)
    assert message == "6: not valid TOML: Invalid value (column 17)"


def test_rules_toml_duplicate_key_is_a_syntax_error(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + 'symbols = ["MSFT"]\n', in_use)
    assert message.startswith("13: not valid TOML: Cannot overwrite a value"), message


def test_rules_toml_error_at_end_of_document_names_last_line(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + 'description = """never closed\n', in_use)
    assert message.startswith("13: not valid TOML:"), message


def test_rules_pack_unknown_name_lists_packs(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + '\n[[pack]]\nname = "finra"\n', in_use)
    assert message == f"15: pack #1: unknown pack 'finra'; known packs: {', '.join(PACKS)}"


def test_rules_pack_unknown_key_suggests(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + '\n[[pack]]\nname = "finra_day_trading"\nswitch_onn = 2026-07-01\n', in_use)
    assert message.startswith("16: pack 'finra_day_trading': unknown key 'switch_onn' (did you mean 'switch_on'?)"), (
        message
    )


def test_rules_pack_switch_on_outside_phase_in_refused_at_its_line(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + '\n[[pack]]\nname = "finra_day_trading"\n\nswitch_on = 2028-01-01\n', in_use)
    assert message.startswith("17: pack 'finra_day_trading': switch_on must lie within 2026-06-01"), message
    assert message.endswith("got 2028-01-01")


def test_rules_pack_param_wrong_type_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + '\n[[pack]]\nname = "finra_day_trading"\nswitch_on = "June"\n', in_use)
    assert message == (
        "16: pack 'finra_day_trading': 'switch_on' must be a date (like 2026-06-01, no time of day), "
        "got a string ('June')"
    )


def test_rules_pack_missing_name_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, GOOD + "\n[[pack]]\nswitch_on = 2026-07-01\n", in_use)
    assert message == f"14: pack #1: missing 'name'; known packs: {', '.join(PACKS)}"


def test_rules_lines_found_past_quoted_dotted_and_multiline_values(tmp_path: Path, in_use: InUse) -> None:
    text = (
        "# a header comment with [[rule]] in it\n"  # 1
        "version = 1  # [[rule]]\n"  # 2
        "[[rule]]\n"  # 3
        '"id" = "restricted"\n'  # 4
        "'kind' = \"restricted_list\"\n"  # 5
        "symbols = [\n"  # 6
        '    "ORCL",  # not = a key\n'  # 7
        '    "MSFT",\n'  # 8
        "]\n"  # 9
        'description = """two\n'  # 10
        "lines [[rule]]\n"  # 11
        'kind = "x" """\n'  # 12
        "[[rule]]\n"  # 13
        'id = "collar"\n'  # 14
        "kind = 'price_collar'\n"  # 15
        "max_deviation = 0.1\n"  # 16
        'portfolios = [ "a", "b" ] \n'  # 17
        "warn.at = 0.5\n"  # 18
    )
    message = refused(tmp_path, text, in_use)
    assert (
        message
        == "18: rule 'collar' (price_collar): unknown key 'warn' (did you mean 'warn_at'?); price_collar "
        + (
            "takes max_deviation, warn_at (and the common keys id, kind, severity, effective_from, effective_to, "
            "portfolios, description)"
        )
    )


def test_rules_lines_found_in_inline_rule_array(tmp_path: Path, in_use: InUse) -> None:
    text = 'version = 1\n\nrule = [\n  { id = "collar", kind = "price_collar", max_deviation = "x" },\n]\n'
    message = refused(tmp_path, text, in_use)
    assert message == "4: rule 'collar' (price_collar): 'max_deviation' must be a number, got a string ('x')"


def test_rules_crlf_and_bom_lines_counted(tmp_path: Path, in_use: InUse) -> None:
    path = tmp_path / RULES_FILE_NAME
    path.write_bytes(("\ufeff" + GOOD + 'sides = "up"\n').replace("\n", "\r\n").encode("utf-8"))
    with pytest.raises(
        RulesFileError, match=rf"^{re.escape(str(path))}:13: rule 'restricted' \(restricted_list\): 'sides'"
    ):
        load_rules(path)
    in_use.assert_unchanged()


def test_rules_not_utf8_refused_naming_the_line(tmp_path: Path, in_use: InUse) -> None:
    path = tmp_path / RULES_FILE_NAME
    path.write_bytes(GOOD.encode("utf-8") + b'description = "caf\xe9"\n')
    offset = len(GOOD.encode("utf-8")) + len('description = "caf')
    with pytest.raises(
        RulesFileError, match=rf"^{re.escape(str(path))}:13: not UTF-8 text \(byte {offset}: b'\\xe9'\)"
    ):
        load_rules(path)
    in_use.assert_unchanged()


def test_rules_missing_explicit_file_not_found_naming_it(tmp_path: Path, in_use: InUse) -> None:
    with pytest.raises(NotFoundError, match=f"compliance rules file {re.escape(str(tmp_path / 'nope.toml'))} does not"):
        load_rules(tmp_path / "nope.toml")
    in_use.assert_unchanged()


def test_rules_directory_is_unreadable(tmp_path: Path, in_use: InUse) -> None:
    with pytest.raises(RulesFileError, match=rf"^{re.escape(str(tmp_path))}: cannot read the rules file"):
        load_rules(tmp_path)
    in_use.assert_unchanged()


def test_rules_non_text_refused() -> None:
    with pytest.raises(RulesFileError, match="the rules must be text"):
        parse_rules(b"version = 1")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# what a valid file gives


def test_rules_empty_file_means_no_rules_and_says_so(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, "# nothing yet\n"))
    assert rules.rules == () and rules.summary().empty
    assert list(rules.summary().columns) == [
        "id", "kind", "version", "severity", "effective_from", "effective_to", "portfolios", "params", "line",
        "description",
    ]  # fmt: skip
    assert rules.describe().endswith(": no rules - every order passes compliance")
    assert "every order passes" in rules._repr_html_()


def test_rules_hash_is_sha256_of_text_and_text_kept(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    rules = load_rules(path)
    assert rules.hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rules.text == GOOD and rules.source == str(path)


def test_rules_params_defaults_filled_and_types_normalised() -> None:
    rules = parse_rules(GOOD + '\n[[rule]]\nid = "notional"\nkind = "max_order_notional"\nmax_notional_usd = 5\n')
    collar, restricted, notional = rules.rules
    assert dict(collar.params) == {"max_deviation": 0.10, "warn_at": None}
    assert dict(restricted.params) == {"symbols": ("ORCL",), "sides": "both"}
    assert notional.params["max_notional_usd"] == 5.0 and isinstance(notional.params["max_notional_usd"], float)
    assert (collar.line, restricted.line, notional.line) == (3, 8, 14)
    assert collar.severity == "block" and collar.portfolios == () and collar.effective_from is None
    with pytest.raises(TypeError):
        collar.params["max_deviation"] = 0.5  # type: ignore[index]


def test_rules_version_is_digest_of_canonical_definition() -> None:
    rules = parse_rules(GOOD.replace("max_deviation = 0.10", 'max_deviation = 0.10\nportfolios = ["b", "a"]\n'
                                     'effective_from = 2026-01-01\nseverity = "warn"'))  # fmt: skip
    canonical = json.dumps(
        {"effective_from": "2026-01-01", "effective_to": None, "kind": "price_collar",
         "params": {"max_deviation": 0.1, "warn_at": None}, "portfolios": ["a", "b"], "severity": "warn"},
        sort_keys=True, separators=(",", ":"),
    )  # fmt: skip
    assert rules.rules[0].version == hashlib.sha256(canonical.encode()).hexdigest()[:12]


def test_rules_version_stable_when_other_rules_or_description_change() -> None:
    before = parse_rules(GOOD)
    after = parse_rules(
        "# edited\n"
        + GOOD.replace('["ORCL"]', '["ORCL", "MSFT"]').replace(
            "max_deviation = 0.10", 'max_deviation = 0.1  # same value\ndescription = "fat finger"'
        )
    )
    assert after.rules[0].version == before.rules[0].version  # collar unchanged: same version
    assert after.rules[1].version != before.rules[1].version  # restricted changed
    assert after.hash != before.hash
    assert after.descriptions[("collar", after.rules[0].version)] == "fat finger"
    default_written = parse_rules(GOOD.replace('symbols = ["ORCL"]', 'symbols = ["ORCL"]\nsides = "both"'))
    assert default_written.rules[1].version == before.rules[1].version  # a default written out is the same rule
    stricter = parse_rules(GOOD.replace("0.10", "0.05"))
    assert stricter.rules[0].version != before.rules[0].version


DATED = """\
[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.05
effective_to = 2026-06-30

[[rule]]
id = "collar"
kind = "price_collar"
max_deviation = 0.20
effective_from = 2026-07-01
effective_to = 2026-09-30

[[rule]]
id = "paper_only"
kind = "restricted_list"
symbols = ["ORCL"]
portfolios = ["paper"]
"""


@pytest.mark.parametrize(
    ("day", "expected"),
    [(dt.date(2020, 1, 1), 0.05), (dt.date(2026, 6, 30), 0.05), (dt.date(2026, 7, 1), 0.20),
     (dt.date(2026, 9, 30), 0.20), (dt.date(2026, 10, 1), None)],
)  # fmt: skip
def test_rules_dated_versions_chosen_on_each_side_of_boundaries(day: dt.date, expected: float | None) -> None:
    rules = parse_rules(DATED)
    collars = [r.params["max_deviation"] for r in rules.effective("paper", day) if r.id == "collar"]
    assert collars == ([] if expected is None else [expected])
    assert [r.id for r in rules.effective("live", day)] == ([] if expected is None else ["collar"])


def test_rules_rule_lookup_by_id_and_version() -> None:
    rules = parse_rules(DATED)
    first, second, _ = rules.rules
    assert rules.rule("collar", second.version) is second and rules.rule("collar", first.version) is first
    with pytest.raises(NotFoundError, match=f"rule 'collar' has no version 'abc' in <string>; its versions: "
                                            f"\\['{first.version}', '{second.version}'\\]"):  # fmt: skip
        rules.rule("collar", "abc")
    with pytest.raises(NotFoundError, match="no rule 'nope' in <string>"):
        rules.rule("nope", first.version)


def test_rules_summary_one_row_per_version_in_file_order() -> None:
    frame = parse_rules(DATED).summary()
    assert list(frame["id"]) == ["collar", "collar", "paper_only"]
    assert list(frame["line"]) == [1, 7, 14]
    assert frame.loc[1, "effective_from"] == dt.date(2026, 7, 1) and frame.loc[0, "effective_from"] is None
    assert frame.loc[2, "params"] == {"symbols": ["ORCL"], "sides": "both"} and frame.loc[2, "portfolios"] == ["paper"]
    json.dumps(frame.drop(columns=["effective_from", "effective_to"]).to_dict("records"))  # JSON-able for --json


def test_rules_repr_html_escapes_text() -> None:
    rules = parse_rules(GOOD + 'description = "<b>not bold</b> & co"\n', source="<mine>")
    page = rules._repr_html_()
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; co" in page and "&lt;mine&gt;" in page and "<b>not" not in page


def test_rules_pack_expands_into_dated_rules_where_it_stands() -> None:
    pack = '[[pack]]\nname = "finra_day_trading"\nswitch_on = 2026-09-01\nportfolios = ["paper"]\n\n'
    text = GOOD.replace('[[rule]]\nid = "restricted"', pack + '[[rule]]\nid = "restricted"')
    rules = parse_rules(text)
    assert [(r.id, r.line) for r in rules.rules] == [
        ("collar", 3), ("pattern_day_trader", 8), ("intraday_margin", 8), ("restricted", 13),
    ]  # fmt: skip
    pdt, margin = rules.rules[1], rules.rules[2]
    assert pdt.effective_to == dt.date(2026, 8, 31) and margin.effective_from == dt.date(2026, 9, 1)
    assert pdt.portfolios == ("paper",) == margin.portfolios
    assert rules.needs_day_trades("paper", dt.date(2026, 8, 31))
    assert not rules.needs_day_trades("paper", dt.date(2026, 9, 1))
    assert not rules.needs_day_trades("live", dt.date(2026, 8, 31))
    assert rules.descriptions[("intraday_margin", margin.version)] == "from pack finra_day_trading"


def test_rules_recent_window_is_longest_lookback_in_force() -> None:
    text = GOOD + (
        '\n[[rule]]\nid = "dup"\nkind = "duplicate_order"\nwindow_seconds = 5\n'
        '\n[[rule]]\nid = "rate"\nkind = "order_rate"\nmax_orders = 10\nper_seconds = 60\neffective_from = 2026-12-03\n'
    )
    rules = parse_rules(text)
    assert rules.recent_window_s("paper", DAY) == 5.0
    assert rules.recent_window_s("paper", DAY + dt.timedelta(days=1)) == 60.0
    assert parse_rules(GOOD).recent_window_s("paper", DAY) == 0.0


# --------------------------------------------------------------------------------------------
# the default rules and where the rules come from


def test_rules_default_contains_the_documented_collar() -> None:
    rules = default_rules()
    assert rules.source == "default" and rules.hash == hashlib.sha256(DEFAULT_RULES_TOML.encode()).hexdigest()
    collar = next(r for r in rules.rules if r.id == "price_collar")
    assert collar.kind == "price_collar" and collar.params["max_deviation"] == 0.10 and collar.severity == "block"
    in_force = {r.id: r for r in rules.effective("paper", DAY)}
    assert list(in_force) == ["price_collar", "max_order_notional", "max_order_quantity", "duplicate_order",
                              "wash_sale", "intraday_margin"]  # fmt: skip
    assert in_force["wash_sale"].params["window_days"] == 30 and in_force["wash_sale"].severity == "warn"
    assert in_force["max_order_notional"].params["max_notional_usd"] == 10_000_000.0
    assert in_force["max_order_quantity"].params["max_shares"] == 1_000_000.0
    assert in_force["duplicate_order"].severity == "warn" and rules.recent_window_s("paper", DAY) == 5.0
    assert {r.kind for r in rules.rules}.isdisjoint({"daily_loss_limit", "short_sale", "order_rate"})


def test_rules_default_commented_examples_parse_when_uncommented() -> None:
    uncommented = re.sub(r"^# (\[\[rule\]\]|id = |kind = |max_|per_)", r"\1", DEFAULT_RULES_TOML, flags=re.M)
    rules = parse_rules(uncommented)
    assert [r.id for r in rules.rules][-3:] == ["daily_loss_limit", "no_short_sales", "order_rate"]
    assert rules.rules[-3].params["max_loss_fraction"] == 0.05 and rules.rules[-1].params["max_orders"] == 50


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # no bifrost.toml, no settings from the environment: only what each test sets
    for name in ("BIFROST_CONFIG", "BIFROST_HOME", "BIFROST_COMPLIANCE_RULES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_load_rules_resolution_order(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = clean_env / "home"
    home.mkdir()
    monkeypatch.setenv("BIFROST_HOME", str(home))
    assert load_rules() is default_rules()  # nothing: the default
    in_home = write(home, GOOD)
    assert load_rules().source == str(in_home)  # <BIFROST_HOME>/compliance.toml
    other_home = clean_env / "other"
    other_home.mkdir()
    assert load_rules(home=other_home).source == "default"  # home= replaces BIFROST_HOME
    setting = write(clean_env, DATED, "rules.toml")
    monkeypatch.setenv("BIFROST_COMPLIANCE_RULES", str(setting))
    assert load_rules().source == str(setting)  # the setting beats the home file
    given = write(clean_env, "", "given.toml")
    assert load_rules(given).source == str(given) and load_rules(str(given)).rules == ()  # a path beats all


def test_load_rules_setting_naming_a_missing_file_not_found(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIFROST_COMPLIANCE_RULES", str(clean_env / "gone.toml"))
    write(clean_env, GOOD)  # a home file does not stand in for a missing named one
    monkeypatch.setenv("BIFROST_HOME", str(clean_env))
    with pytest.raises(NotFoundError, match=r"gone\.toml \(the compliance_rules setting, BIFROST_COMPLIANCE_RULES\)"):
        load_rules()


def test_load_rules_bad_home_file_refused_not_replaced_by_default(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(clean_env, GOOD + "oops = 1\n")
    monkeypatch.setenv("BIFROST_HOME", str(clean_env))
    with pytest.raises(
        RulesFileError, match=r"compliance\.toml:13: rule 'restricted' \(restricted_list\): unknown key 'oops'"
    ):
        load_rules()


def test_rules_file_error_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        parse_rules("version = 3")


def test_rules_set_is_immutable() -> None:
    rules = parse_rules(GOOD)
    with pytest.raises(AttributeError):
        rules.hash = "x"  # type: ignore[misc]
    assert isinstance(rules, RuleSet) and hash(rules) == hash(parse_rules(GOOD))


# --------------------------------------------------------------------------------------------
# the reference doc


def test_rules_file_doc_matches_code_regenerate_if_not() -> None:
    # regenerate: the command at the top of the doc (rules_file_doc() written to the file)
    assert DOC.read_text(encoding="utf-8") == rules_file_doc()


def test_rules_file_doc_has_every_kind_and_param_and_the_default() -> None:
    doc = rules_file_doc()
    for name, kind in RULE_KINDS.items():
        assert f"### `{name}`" in doc
        for param in kind.params:
            assert f"| `{param.name}` |" in doc
    for name in PACKS:
        assert f"### `{name}`" in doc
    assert "```toml\n" + DEFAULT_RULES_TOML.rstrip("\n") + "\n```" in doc


TRICKY = """\
# c [[rule]]
version = 1 # x = 2
[[ rule ]] # trailing
id = "a\\"b" # not a key = 1
"kind" = 'restricted_list'
symbols = [ "X]", 'Y[', # ]
  \"\"\"Z
  " = 3
  \"\"\", ]
description = \"\"\"a \\\"\"\" b\"\"\"\"
[ rule . extra ]
k = 1
[[rule]]
id = '''x
= 5'''
a . b = { c = "}", d = [1, 2] }
"q.r" = 1
x = '''
[[rule]]
'''
[[pack]]
name = "p"
[[rule]]
last = 1
"""


def test_rules_layout_finds_headers_and_keys_past_strings_comments_and_inline_tables() -> None:
    from bifrost.compliance._rules import _Layout

    lines = _Layout.scan(TRICKY).lines
    assert {path: line for path, line in lines.items() if path[0] == "rule" and len(path) == 2} == {
        ("rule", 0): 3, ("rule", 1): 13, ("rule", 2): 23,
    }  # fmt: skip
    assert lines[("rule", 0, "kind")] == 5 and lines[("rule", 0, "symbols")] == 6
    assert lines[("rule", 0, "description")] == 10 and lines[("rule", 0, "extra")] == 11
    assert lines[("rule", 1, "id")] == 14 and lines[("rule", 1, "a", "b")] == 16 and lines[("rule", 1, "q.r")] == 17
    assert lines[("rule", 1, "x")] == 18 and lines[("pack", 0)] == 21 and lines[("rule", 2, "last")] == 24


def test_rules_file_too_large_refused_unread(tmp_path: Path, in_use: InUse) -> None:
    path = tmp_path / RULES_FILE_NAME
    with path.open("wb") as f:
        f.truncate(9 * 1024 * 1024)  # sparse: nothing written
    with pytest.raises(
        RulesFileError, match=rf"^{re.escape(str(path))}: the rules file is 9,437,184 bytes; at most 8,388,608"
    ):
        load_rules(path)
    in_use.assert_unchanged()


# values written as TOML text, tricky on purpose (brackets, quotes, '#', '=')
_VALUES = st.sampled_from(
    [
        "1",
        "-0.5e3",
        "2026-06-01",
        '"a # b = [c]"',
        "'lit ] [[rule]] \"'",
        '"esc \\" ] = #"',
        '[ "x]", \'y[\', { a = "}" } ]',
        '[\n  "a",  # ] = x\n  1,\n]',
        '"""multi\n[[rule]]\nk = 1 \\""""',
        "'''lit\n[[pack]]\n'''",
        '{ a = 1, b = { c = "]" } }',
    ]
)
_KEYS = st.sampled_from(["id", "kind", '"quoted key"', "'lit.key'", "dotted.part", "a-b", "k_1"])
_FILLER = st.sampled_from(["", "# a comment [[rule]] x = 1", "   ", "\t# [[pack]]"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["[[rule]]", "[[ rule ]]  # c", "[[pack]]"]),
                  st.lists(st.tuples(_KEYS, _VALUES, _FILLER), max_size=5, unique_by=lambda t: t[0])),
        max_size=5,
    )
)  # fmt: skip
def test_rules_layout_lines_match_where_written(tables: list[tuple[str, list[tuple[str, str, str]]]]) -> None:
    from bifrost.compliance._rules import _key_path, _Layout

    text = "version = 1 # [[rule]]\n"
    expected: dict[tuple[str | int, ...], int] = {}
    counts = {"rule": 0, "pack": 0}
    for header, entries in tables:
        name = "pack" if "pack" in header else "rule"
        expected[(name, counts[name])] = text.count("\n") + 1
        text += header + "\n"
        for key, value, filler in entries:
            expected[(name, counts[name], _key_path(key)[0])] = text.count("\n") + 1
            text += f"{key} = {value}\n{filler}\n"
        counts[name] += 1
    tomllib.loads(text)  # the generated document is valid TOML
    lines = _Layout.scan(text).lines
    assert {path: lines.get(path) for path in expected} == expected


def test_rules_effective_takes_a_timestamp_as_its_utc_date() -> None:
    rules = parse_rules(DATED)
    evening = pd.Timestamp("2026-06-30 20:30", tz="America/New_York")  # 00:30 UTC on 07-01
    assert [r.params["max_deviation"] for r in rules.effective("paper", evening) if r.id == "collar"] == [0.20]
    naive = dt.datetime(2026, 6, 30, 23, 0)
    assert [r.params["max_deviation"] for r in rules.effective("paper", naive) if r.id == "collar"] == [0.05]


# --------------------------------------------------------------------------------------------
# QA findings F9/F10 (every number bounded so no accepted value crashes a decision), F1, F16, F3, F4


@pytest.mark.parametrize(
    ("rule", "key", "expected"),
    [
        ('kind = "order_rate"\nmax_orders = 5\nper_seconds = 1e15', "per_seconds", "must be >= 0.001 and <= 86400"),
        ('kind = "order_rate"\nmax_orders = 1000001', "max_orders", "must be >= 1 and <= 1000000"),
        ('kind = "duplicate_order"\nwindow_seconds = 1e14', "window_seconds", "must be >= 0.001 and <= 86400"),
        ('kind = "duplicate_order"\nwindow_seconds = 0', "window_seconds", "must be >= 0.001 and <= 86400"),
        ('kind = "pattern_day_trader"\nsessions = 1000000000', "sessions", "must be >= 1 and <= 10"),
        ('kind = "pattern_day_trader"\nsessions = 11', "sessions", "must be >= 1 and <= 10"),
        ('kind = "pattern_day_trader"\nmax_day_trades = 101', "max_day_trades", "must be >= 0 and <= 100"),
        ('kind = "wash_sale"\nwindow_days = 1000000000000', "window_days", "must be >= 1 and <= 366"),
        ('kind = "max_order_notional"\nmax_notional_usd = 1e15', "max_notional_usd", "must be > 0 and < 1e+15"),
        ('kind = "max_order_quantity"\nmax_shares = 1e15', "max_shares", "must be > 0 and < 1e+15"),
        ('kind = "gross_exposure"\nmax_fraction = 100', "max_fraction", "must be > 0 and < 100"),
        ('kind = "max_position_pct_nav"\nmax_fraction = 1e9', "max_fraction", "must be > 0 and < 100"),
        ('kind = "sector_concentration"\nmax_fraction = 100', "max_fraction", "must be > 0 and < 100"),
        ('kind = "issuer_concentration"\nmax_fraction = 100', "max_fraction", "must be > 0 and < 100"),
    ],
)
def test_rules_param_above_its_maximum_refused_naming_line_and_key(
    tmp_path: Path, in_use: InUse, rule: str, key: str, expected: str
) -> None:
    message = refused(tmp_path, f'[[rule]]\nid = "r"\n{rule}\n', in_use)
    line = 3 + rule.count("\n")
    assert re.match(rf"{line}: rule 'r' \(\w+\): '{key}' {re.escape(expected)}, got ", message), message


def test_rules_params_at_their_maximum_decide_without_error(tmp_path: Path) -> None:
    # every bound accepted by the loader is one the kinds can compute with (no OutOfBoundsTimedelta)
    text = (
        '[[rule]]\nid = "rate"\nkind = "order_rate"\nmax_orders = 1000000\nper_seconds = 86400\n'
        '[[rule]]\nid = "dup"\nkind = "duplicate_order"\nwindow_seconds = 86400\n'
        '[[rule]]\nid = "pdt"\nkind = "pattern_day_trader"\nsessions = 10\nmax_day_trades = 100\n'
        "min_equity_usd = 1e15\n"
        '[[rule]]\nid = "wash"\nkind = "wash_sale"\nwindow_days = 366\n'
        '[[rule]]\nid = "cap"\nkind = "max_order_notional"\nmax_notional_usd = 999999999999999.9\n'
    )
    rules = load_rules(write(tmp_path, text))
    book = BookState(
        portfolio="desk",
        ts=pd.Timestamp("2026-12-02 15:00", tz="UTC"),
        cash=100_000.0,
        equity=100_000.0,
        positions={},
        prices={"ORCL": 44.97},
    )
    order = ProposedOrder(portfolio="desk", symbol="ORCL", side=Side.BUY, quantity=Decimal(10))
    decision = ComplianceEngine(rules).evaluate(order, book)
    assert decision.verdict == "pass"
    assert [r.rule for r in decision.results] == ["rate", "dup", "pdt", "cap"]
    assert rules.recent_window_s("desk", dt.date(2026, 12, 2)) == 86_400.0


def test_rules_day_trade_sessions_bounded_by_what_the_order_manager_loads() -> None:
    from bifrost.execution._compliance import DAY_TRADE_SESSIONS

    sessions = next(p for p in RULE_KINDS["pattern_day_trader"].params if p.name == "sessions")
    assert sessions.maximum == DAY_TRADE_SESSIONS == 10


def test_rules_every_number_param_has_a_maximum() -> None:
    for kind in RULE_KINDS.values():
        for param in kind.params:
            if param.type in ("float", "int"):
                assert param.maximum is not None, f"{kind.name}.{param.name}"
    for pack in PACKS.values():
        for param in pack.params:
            if param.type in ("float", "int"):
                assert param.maximum is not None, f"{pack.name}.{param.name}"


@pytest.mark.parametrize("opener", ["[", "{a = "])
def test_rules_nested_too_deeply_refused_in_one_line(tmp_path: Path, in_use: InUse, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = f'version = 1\n[[rule]]\nid = "c"\ndescription = {opener * 3000}1{closer * 3000}\n'
    assert refused(tmp_path, text, in_use) == "4: not valid TOML: nested too deeply"


def test_rules_fifo_refused_without_waiting(tmp_path: Path, in_use: InUse) -> None:
    import os

    path = tmp_path / "fifo.toml"
    os.mkfifo(path)
    with pytest.raises(RulesFileError, match=rf"^{re.escape(str(path))}: cannot read the rules file: it is a FIFO"):
        load_rules(path)
    in_use.assert_unchanged()


def test_rules_device_refused_unread(in_use: InUse) -> None:
    with pytest.raises(RulesFileError, match=r"^/dev/zero: cannot read the rules file: it is a device, not a regular"):
        load_rules("/dev/zero")
    in_use.assert_unchanged()


def test_rules_directory_named_as_such(tmp_path: Path, in_use: InUse) -> None:
    with pytest.raises(RulesFileError, match=r"cannot read the rules file: it is a directory, not a regular file$"):
        load_rules(tmp_path)
    in_use.assert_unchanged()


def test_rules_array_of_inline_tables_names_the_bad_tables_line(tmp_path: Path, in_use: InUse) -> None:
    text = (
        "rule = [\n"
        ' {id = "a", kind = "price_collar", max_deviation = 0.1},\n'
        " # a comment, then the bad one\n"
        ' {id = "b", kind = "price_collar", max_deviation = -0.1},\n'
        "]\n"
    )
    message = refused(tmp_path, text, in_use)
    assert message == "4: rule 'b' (price_collar): 'max_deviation' must be > 0 and < 10, got -0.1"


def test_rules_empty_restricted_list_refused(tmp_path: Path, in_use: InUse) -> None:
    message = refused(tmp_path, '[[rule]]\nid = "r"\nkind = "restricted_list"\n\nsymbols = []\n', in_use)
    expected = "5: rule 'r' (restricted_list): 'symbols' is empty, so the rule would do nothing; list at least one"
    assert message == expected


def test_rules_unknown_key_of_100000_characters_is_refused_at_once_and_shown_cut(tmp_path: Path, in_use: InUse) -> None:
    # difflib on such a key took 27 s and the message carried all of it (found by QA)
    message = refused(tmp_path, GOOD + "k" * 100_000 + " = 1\n", in_use)
    assert message.startswith("13: rule 'restricted' (restricted_list): unknown key 'kkkk"), message[:200]
    assert "... (100,000 characters); restricted_list takes" in message and len(message) < 400
