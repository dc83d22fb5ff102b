"""The compliance rules file (``compliance.toml``): read, validate, version and look up rules.

A rules file is TOML::

    version = 1                      # optional, must be 1
    [[rule]]
    id = "collar"                    # [a-z][a-z0-9_]*
    kind = "price_collar"            # one of RULE_KINDS
    max_deviation = 0.10             # the kind's parameters
    severity = "block"               # optional: block (default) | warn
    effective_from = 2026-01-01      # optional TOML dates, inclusive
    effective_to = 2026-12-31
    portfolios = ["paper"]           # optional: default every portfolio
    description = "fat finger"       # optional, at most 200 characters
    [[pack]]                         # a named bundle expanding into dated rules
    name = "finra_day_trading"
    switch_on = 2026-06-01

Everything is checked before anything is used: `parse_rules` either returns a whole
`RuleSet` or raises `RulesFileError` whose message starts ``<source>:<line>:`` and names
the rule, its kind and the key; a refused file changes nothing. The reference of the format
(generated from `RULE_KINDS` by `rules_file_doc`) is ``docs/compliance/rules-file.md``.

Versions. A rule's ``version`` is the first 12 hex digits of the SHA-256 of the canonical
JSON of its definition (kind, params with defaults filled in, severity, dates, portfolios),
so a rule keeps its version while other rules of the file change; the file's ``hash`` is the
SHA-256 of its whole text (what the audit trail records, and what a replay rebuilds from).
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import hashlib
import html
import json
import math
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, cast

import pandas as pd

from bifrost.compliance._kinds import PACKS, RULE_KINDS, RulePack
from bifrost.compliance._model import Param, Rule, RuleKind, Severity
from bifrost.errors import InvalidInputError, NotFoundError, RulesFileError

__all__ = [
    "DEFAULT_RULES_TOML",
    "RULES_FILE_NAME",
    "RuleSet",
    "default_rules",
    "load_rules",
    "parse_rules",
    "rules_file_doc",
]

RULES_FILE_NAME: Final = "compliance.toml"

DEFAULT_RULES_TOML: Final = """\
# Bifrost's default compliance rules: what the order manager applies when no rules file is
# found (no --rules, no `compliance_rules` setting or BIFROST_COMPLIANCE_RULES, and no
# <BIFROST_HOME>/compliance.toml). To change them, copy this text to
# <BIFROST_HOME>/compliance.toml and edit it; `bifrost compliance rules --check FILE`
# validates a file without using it. The format and every kind's parameters:
# docs/compliance/rules-file.md.
version = 1

# The fat-finger collar: block a limit (or stop-limit) order priced more than 10% away from
# the symbol's last price (before the open: the last close).
[[rule]]
id = "price_collar"
kind = "price_collar"
max_deviation = 0.10
description = "limit price more than 10% from the last price"

# No single order above $10,000,000 of notional (at its limit price, else the last price).
[[rule]]
id = "max_order_notional"
kind = "max_order_notional"
max_notional_usd = 10_000_000
description = "order notional above $10,000,000"

# No single order above 1,000,000 shares.
[[rule]]
id = "max_order_quantity"
kind = "max_order_quantity"
max_shares = 1_000_000
description = "order above 1,000,000 shares"

# The same symbol, side, quantity and limit price sent again within 5 seconds: most likely
# sent twice by mistake. Warns only (a strategy may mean it).
[[rule]]
id = "duplicate_order"
kind = "duplicate_order"
window_seconds = 5
severity = "warn"
description = "the same order again within 5 seconds"

# The wash-sale rule (26 U.S.C. 1091): a sale at a loss with a purchase of the same symbol
# within 30 days before or after it. Post-trade only: never blocks an order; surveillance
# (`bifrost compliance surveil`) flags it and moves the disallowed loss into the
# replacement lot's basis.
[[rule]]
id = "wash_sale"
kind = "wash_sale"
window_days = 30
severity = "warn"
description = "a loss sale with a purchase within 30 days (surveillance)"

# FINRA Rule 4210 day trading, as two dated rules: the pattern-day-trader minimum (4 day
# trades in 5 sessions need $25,000 of equity) until the day before switch_on, and the
# amended rule's intraday margin standard from switch_on (FINRA's April 2026 amendment,
# phased in from 2026-06-01 to 2027-10-01: set switch_on to your broker's date).
[[pack]]
name = "finra_day_trading"
switch_on = 2026-06-01

# Firm-specific rules, off by default: uncomment and adjust.
#
# The kill switch: once the book has lost 5% of its start-of-day equity, block every order
# that does not only reduce (the order manager then halts the book).
# [[rule]]
# id = "daily_loss_limit"
# kind = "daily_loss_limit"
# max_loss_fraction = 0.05
#
# No short sales: block a sell beyond the long position (and what is already being sold)
# in a long-only book.
# [[rule]]
# id = "no_short_sales"
# kind = "short_sale"
#
# At most 50 orders a minute per book.
# [[rule]]
# id = "order_rate"
# kind = "order_rate"
# max_orders = 50
# per_seconds = 60
"""

_COMMON: Final[Mapping[str, str]] = MappingProxyType(
    {
        "id": "the rule's name: a lowercase letter, then lowercase letters, digits or _ (at most 64)",
        "kind": "the rule kind (below)",
        "severity": 'what a tripped rule does: "block" (the default) or "warn"',
        "effective_from": "the first session date it applies on (a TOML date, inclusive; default: always)",
        "effective_to": "the last session date it applies on (a TOML date, inclusive; default: for ever)",
        "portfolios": "the portfolios it applies to (a list of names; default: every portfolio)",
        "description": "free text shown with the rule (at most 200 characters)",
    }
)
_TOP_LEVEL: Final = ("version", "rule", "pack")
_PACK_COMMON: Final[Mapping[str, str]] = MappingProxyType(
    {
        "name": "the pack (below)",
        "portfolios": "the portfolios its rules apply to (default: every portfolio)",
    }
)
_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_MAGNITUDE: Final = 1e15
_MAX_DESCRIPTION: Final = 200
_MAX_NAME: Final = 200
_MAX_FILE_BYTES: Final = 8 * 1024 * 1024
# the kinds whose inputs read the book's day trades (so the execution adapter loads them only then)
_DAY_TRADE_KINDS: Final = frozenset({"pattern_day_trader"})
# the kinds that read recent orders, and the parameter that is their lookback in seconds
_LOOKBACK_PARAM: Final[Mapping[str, str]] = MappingProxyType(
    {"duplicate_order": "window_seconds", "order_rate": "per_seconds"}
)
_SUMMARY_COLUMNS: Final = [
    "id",
    "kind",
    "version",
    "severity",
    "effective_from",
    "effective_to",
    "portfolios",
    "params",
    "line",
    "description",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """A validated rules file: every rule version, in file order, and the text they came from.

    Make one with `parse_rules` or `load_rules` (they validate; this constructor does not).

    Attributes
    ----------
    rules
        Every rule version, in file order (a pack's rules where the pack stands).
    hash
        The SHA-256 (hex) of ``text``: the audit trail's name for these rules.
    source
        The file's path, ``"default"`` for the built-in default, or the ``source`` given to
        `parse_rules`.
    text
        The file's text (the audit trail keeps it, so a replay can rebuild the rules).
    descriptions
        ``(id, version)`` → the rule's description, where it has one.
    """

    rules: tuple[Rule, ...]
    hash: str
    source: str
    text: str
    descriptions: Mapping[tuple[str, str], str] = field(default_factory=lambda: MappingProxyType({}))
    _effective: dict[tuple[str, dt.date], tuple[Rule, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __hash__(self) -> int:
        return hash((self.hash, self.source))

    def effective(self, portfolio: str, day: dt.date) -> tuple[Rule, ...]:
        """Return the rule versions in force for ``portfolio`` on session date ``day``, in file order.

        Parameters
        ----------
        portfolio
            The portfolio's name.
        day
            The session date (UTC). A datetime (or Timestamp) is taken as its UTC date (a
            naive one as UTC), as the engine takes ``book.ts``.

        Returns
        -------
        tuple of Rule
            At most one version per rule id.
        """
        if isinstance(day, dt.datetime):
            if day.tzinfo is not None:
                day = day.astimezone(dt.UTC)
            day = dt.date(day.year, day.month, day.day)
        key = (portfolio, day)
        found = self._effective.get(key)
        if found is None:
            if len(self._effective) > 4096:  # a long replay or backtest: keep the cache bounded
                self._effective.clear()
            found = tuple(r for r in self.rules if r.applies(portfolio, day))
            self._effective[key] = found
        return found

    def rule(self, id: str, version: str) -> Rule:
        """Return the rule ``id`` in version ``version``.

        Raises
        ------
        NotFoundError
            If these rules have no such version (the message lists the versions of ``id``).
        """
        for r in self.rules:
            if r.id == id and r.version == version:
                return r
        versions = [r.version for r in self.rules if r.id == id]
        if versions:
            raise NotFoundError(f"rule {id!r} has no version {version!r} in {self.source}; its versions: {versions}")
        raise NotFoundError(f"no rule {id!r} in {self.source}; its rules: {sorted({r.id for r in self.rules})}")

    def recent_window_s(self, portfolio: str, day: dt.date) -> float:
        """Return how far back the rules in force read the book's recent orders, in seconds.

        The longest ``window_seconds`` of the ``duplicate_order`` rules and ``per_seconds`` of
        the ``order_rate`` rules in force for ``portfolio`` on ``day``; 0.0 when there are
        none (the execution adapter then need not load recent orders).
        """
        longest = 0.0
        for r in self.effective(portfolio, day):
            name = _LOOKBACK_PARAM.get(r.kind)
            if name is not None:
                value = r.params.get(name)
                if isinstance(value, int | float):
                    longest = max(longest, float(value))
        return longest

    def needs_day_trades(self, portfolio: str, day: dt.date) -> bool:
        """Return whether a rule in force for ``portfolio`` on ``day`` reads the book's day trades.

        True when a ``pattern_day_trader`` rule is in force (it reads ``BookState.day_trades``
        and ``opened_today``).
        """
        return any(r.kind in _DAY_TRADE_KINDS for r in self.effective(portfolio, day))

    def describe(self) -> str:
        """Return one line saying where these rules come from and how many there are.

        An empty file is allowed and means "no rules": every order passes; this line says so.
        """
        head = f"compliance rules from {self.source} (sha256 {self.hash[:12]})"
        if not self.rules:
            return f"{head}: no rules - every order passes compliance"
        ids = len({r.id for r in self.rules})
        versions = len(self.rules)
        return f"{head}: {ids} rule{'s' if ids != 1 else ''}, {versions} version{'s' if versions != 1 else ''}"

    def summary(self) -> pd.DataFrame:
        """Return one row per rule version, in file order.

        Returns
        -------
        pandas.DataFrame
            Columns ``id, kind, version, severity, effective_from, effective_to`` (dates or
            None), ``portfolios`` (a list; empty: every portfolio), ``params`` (a JSON-able
            dict), ``line`` (where the rule's table starts in ``text``; a pack's rules carry
            the line of their ``[[pack]]`` table) and ``description`` (``""`` when none). No
            rows for an empty rules file.
        """
        rows = [
            {
                "id": r.id,
                "kind": r.kind,
                "version": r.version,
                "severity": r.severity,
                "effective_from": r.effective_from,
                "effective_to": r.effective_to,
                "portfolios": list(r.portfolios),
                "params": {k: _jsonable(v) for k, v in r.params.items()},
                "line": r.line,
                "description": self.descriptions.get((r.id, r.version), ""),
            }
            for r in self.rules
        ]
        return pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)

    def _repr_html_(self) -> str:
        head = f"<p><b>{html.escape(self.describe())}</b></p>"
        if not self.rules:
            return head
        cells = []
        for r in self.rules:
            params = ", ".join(f"{k}={_show(v)}" for k, v in r.params.items() if v is not None)
            window = f"{r.effective_from or '…'} – {r.effective_to or '…'}"
            values = [
                r.id,
                r.kind,
                r.version,
                r.severity,
                window,
                ", ".join(r.portfolios) or "all",
                params,
                self.descriptions.get((r.id, r.version), ""),
            ]
            cells.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in values) + "</tr>")
        header = "".join(
            f"<th>{h}</th>"
            for h in ("id", "kind", "version", "severity", "effective", "portfolios", "params", "description")
        )
        return f"{head}<table><thead><tr>{header}</tr></thead><tbody>{''.join(cells)}</tbody></table>"


def parse_rules(text: str, *, source: str = "<string>") -> RuleSet:
    """Validate a rules file's text and return its rules.

    Parameters
    ----------
    text
        The TOML text (see the module docstring and ``docs/compliance/rules-file.md``). An
        empty text (or comments only) is allowed and means no rules: every order passes.
    source
        What to call the text in messages and in `RuleSet.source` (the file's path).

    Returns
    -------
    RuleSet
        Every rule version, in file order, with ``hash`` the SHA-256 of ``text``.

    Raises
    ------
    RulesFileError
        If the text is not valid TOML or any rule is malformed: the message starts
        ``<source>:<line>:`` and names the rule, its kind and the key.
    """
    if not isinstance(text, str):
        raise RulesFileError(f"{source}: the rules must be text (str), got {type(text).__name__}")
    body = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(body)
    except tomllib.TOMLDecodeError as exc:
        raise RulesFileError(_syntax_message(source, body, str(exc))) from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise RulesFileError(f"{source}:{_deep_line(body)}: not valid TOML: nested too deeply") from None
    try:
        layout = _Layout.scan(body)
    except (IndexError, ValueError):  # a construct the scanner misreads: lines degrade to 1, never a crash
        layout = _Layout()
    reader = _Reader(source, layout)
    rules, descriptions = reader.read(data)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return RuleSet(
        rules=tuple(rules),
        hash=digest,
        source=source,
        text=text,
        descriptions=MappingProxyType(descriptions),
    )


@functools.cache
def default_rules() -> RuleSet:
    """Return the built-in default rules (`DEFAULT_RULES_TOML`, source ``"default"``)."""
    return parse_rules(DEFAULT_RULES_TOML, source="default")


def load_rules(path: str | os.PathLike[str] | None = None, *, home: Path | None = None) -> RuleSet:
    """Read the rules file that applies and return its rules.

    The first of: ``path``; the ``compliance_rules`` setting (``BIFROST_COMPLIANCE_RULES``
    or ``bifrost.toml``); ``<home>/compliance.toml`` if it exists (``home`` defaults to the
    ``home`` setting, ``BIFROST_HOME``); else the built-in default (`DEFAULT_RULES_TOML`).

    Parameters
    ----------
    path
        The rules file to read.
    home
        The directory whose ``compliance.toml`` applies when neither ``path`` nor the
        setting names a file.

    Returns
    -------
    RuleSet
        The file's rules (``source`` its path), or the default (``source == "default"``).

    Raises
    ------
    NotFoundError
        If ``path`` or the setting names a file that does not exist.
    RulesFileError
        If the file cannot be read, is not UTF-8 text, or is malformed.
    ConfigError
        If the settings cannot be read.
    """
    if path is not None:
        return _read_file(Path(path), named_by="")
    from bifrost.config import load_settings  # config reads the environment: only when needed

    settings = load_settings()
    if settings.compliance_rules is not None:
        return _read_file(
            settings.compliance_rules, named_by=" (the compliance_rules setting, BIFROST_COMPLIANCE_RULES)"
        )
    candidate = (settings.home if home is None else Path(home)) / RULES_FILE_NAME
    if candidate.exists():
        return _read_file(candidate, named_by="")
    return default_rules()


def _read_file(path: Path, *, named_by: str) -> RuleSet:
    source = str(path)
    try:
        _check_regular(source, path.stat().st_mode)
        size = path.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise RulesFileError(
                f"{source}: the rules file is {size:,} bytes; at most {_MAX_FILE_BYTES:,} are read "
                "- is it the right file?"
            )
        # non-blocking: a FIFO swapped in after the stat never hangs the open
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            _check_regular(source, os.fstat(f.fileno()).st_mode)
            raw = f.read(_MAX_FILE_BYTES + 1)  # never more than the cap, whatever the size said
        if len(raw) > _MAX_FILE_BYTES:
            raise RulesFileError(
                f"{source}: the rules file has more than {_MAX_FILE_BYTES:,} bytes; at most {_MAX_FILE_BYTES:,} "
                "are read - is it the right file?"
            )
    except FileNotFoundError:
        raise NotFoundError(f"compliance rules file {source}{named_by} does not exist") from None
    except OSError as exc:
        raise RulesFileError(f"{source}: cannot read the rules file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise RulesFileError(
            f"{source}:{line}: not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r}); save it as UTF-8"
        ) from None
    return parse_rules(text, source=source)


def _deep_line(text: str, depth: int = 100) -> int:
    # the line where arrays or inline tables first nest `depth` deep (1 if they never do)
    level, line = 0, 1
    for c in text:
        if c == "\n":
            line += 1
        elif c in "[{":
            level += 1
            if level >= depth:
                return line
        elif c in "]}":
            level = max(level - 1, 0)
    return 1


def _check_regular(source: str, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    what = (
        "a directory" if stat.S_ISDIR(mode)
        else "a FIFO" if stat.S_ISFIFO(mode)
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "not a plain file"
    )  # fmt: skip
    raise RulesFileError(f"{source}: cannot read the rules file: it is {what}, not a regular file")


def _syntax_message(source: str, text: str, message: str) -> str:
    found = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if found:
        line = int(found[1])
        detail = f"{message[: found.start()].strip()} (column {found[2]})"
    else:
        line = max(text.count("\n") + (0 if text.endswith("\n") else 1), 1)
        detail = message.replace("(at end of document)", "at the end of the file").strip()
    return f"{source}:{line}: not valid TOML: {detail}"


# ---------------------------------------------------------------------------------------------
# Where things are: tomllib gives values without lines, so the text is scanned once for the line
# of every table header and key. The text has already parsed, so the scanner may assume valid TOML.


Path_ = tuple[str | int, ...]


class _Layout:
    __slots__ = ("lines",)

    def __init__(self) -> None:
        # resolved key path (array elements by index) → the line it is first written on
        self.lines: dict[Path_, int] = {}

    def line(self, path: Path_) -> int:
        while path:
            found = self.lines.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return 1

    @classmethod
    def scan(cls, text: str) -> _Layout:
        layout = cls()
        counts: dict[Path_, int] = {}  # array-of-tables path → elements so far
        table: Path_ = ()
        i, n, line = 0, len(text), 1

        def resolve(keys: tuple[str, ...]) -> Path_:
            out: Path_ = ()
            for key in keys:
                out = (*out, key)
                if out in counts:
                    out = (*out, counts[out] - 1)
            return out

        while i < n:
            c = text[i]
            if c == "\n":
                line += 1
                i += 1
            elif c in " \t\r":
                i += 1
            elif c == "#":
                i = _line_end(text, i)
            elif c == "[":
                double = text.startswith("[[", i)
                start = i + (2 if double else 1)
                end = _key_end(text, start, "]")
                keys = _key_path(text[start:end])
                i = end + (2 if double else 1)
                if double:
                    array = (*resolve(keys[:-1]), keys[-1])
                    counts[array] = counts.get(array, 0) + 1
                    layout.lines.setdefault(array, line)
                    table = (*array, counts[array] - 1)
                else:
                    table = resolve(keys)
                layout.lines.setdefault(table, line)
            else:
                end = _key_end(text, i, "=")
                keys = _key_path(text[i:end])
                for depth in range(1, len(keys) + 1):
                    layout.lines.setdefault((*table, *keys[:depth]), line)
                starts: list[int] = []
                i, line = _skip_value(text, end + 1, line, starts)
                for index, start in enumerate(starts):  # an array's elements (inline tables: rule = [{...}])
                    layout.lines.setdefault((*table, *keys, index), start)
        return layout


def _line_end(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _key_end(text: str, i: int, stop: str) -> int:
    # the index of `stop` after a (possibly quoted, dotted) key starting at i
    n = len(text)
    while i < n:
        c = text[i]
        if c == stop:
            return i
        if c == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "'":
            i = text.index("'", i + 1)
        i += 1
    return n


def _key_path(raw: str) -> tuple[str, ...]:
    # let tomllib decode the key (quotes, escapes, dots): `raw = 0` is a one-key document
    parsed: object = tomllib.loads(f"{raw.strip()} = 0")
    keys: list[str] = []
    while isinstance(parsed, dict):
        (key, parsed), *_ = parsed.items()
        keys.append(key)
    return tuple(keys)


def _skip_value(text: str, i: int, line: int, starts: list[int] | None = None) -> tuple[int, int]:
    # skip a value (strings, arrays and inline tables may span lines) up to the end of its line;
    # the line each element of a top array starts on goes to `starts`
    depth, n = 0, len(text)
    in_array = element = False  # inside a top-level array; expecting an element's first character
    while i < n:
        c = text[i]
        if element and depth == 1 and c not in " \t\r\n,#]":
            element = False
            if starts is not None:
                starts.append(line)
        if text.startswith('"""', i) or text.startswith("'''", i):
            quote = text[i : i + 3]
            j = i + 3
            while True:
                if quote == '"""' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                j += 1
            while text.startswith(quote[0], j + 3):  # up to two quotes may close the string's content
                j += 1
            line += text.count("\n", i, j + 3)
            i = j + 3
        elif c == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif c == "'":
            i = text.index("'", i + 1) + 1
        elif c in "[{":
            depth += 1
            if depth == 1:
                in_array = element = c == "["
            i += 1
        elif c in "]}":
            depth -= 1
            i += 1
        elif c == "," and depth == 1 and in_array:
            element = True
            i += 1
        elif c == "#":
            i = _line_end(text, i)
        elif c == "\n":
            if depth <= 0:
                return i, line
            line += 1
            i += 1
        else:
            i += 1
    return i, line


# ---------------------------------------------------------------------------------------------
# Validation


class _Problem(Exception):
    # a value's problem, without the where (the caller adds source:line and the rule)
    pass


_TOML_TYPES: Final = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    (dt.datetime, "a datetime"),
    (dt.date, "a date"),
    (dt.time, "a time"),
    (list, "an array"),
    (dict, "a table"),
)
_WANTED: Final[Mapping[str, str]] = MappingProxyType(
    {
        "float": "a number",
        "int": "an integer",
        "bool": "true or false",
        "str": "a string",
        "date": "a date (like 2026-06-01)",
        "str_list": 'a list of strings (like ["AAPL", "MSFT"])',
        "str_map": 'a table of strings (like {AAPL = "Apple"})',
    }
)


def _toml_type(value: object) -> str:
    for kind, name in _TOML_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _shown_value(value: object) -> str:
    text = repr(value) if isinstance(value, str) else _show(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _show(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _got(value: object) -> str:
    return f"got {_toml_type(value)} ({_shown_value(value)})"


def _number(value: object, key: str, *, integer: bool) -> float | int:
    wanted = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Problem(f"{key!r} must be {wanted}, {_got(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Problem(f"{key!r} must be a finite number, got {value!r}")
    if abs(value) > _MAX_MAGNITUDE:
        raise _Problem(f"{key!r} = {value!r} is too large (at most 1e15 in magnitude)")
    if integer:
        if isinstance(value, float):
            raise _Problem(f"{key!r} must be an integer, {_got(value)}")
        return value
    return float(value)


def _bounds_text(param: Param) -> str:
    lo = ">" if param.exclusive else ">="
    hi = "<" if param.exclusive else "<="
    parts = []
    if param.minimum is not None:
        parts.append(f"{lo} {_fmt_num(param.minimum)}")
    if param.maximum is not None:
        parts.append(f"{hi} {_fmt_num(param.maximum)}")
    return " and ".join(parts)


def _fmt_num(x: float) -> str:
    if float(x).is_integer():
        return str(int(x)) if abs(x) < 1e7 else f"{x:g}"
    return repr(x)


def _convert(param: Param, value: object) -> object:
    # the value as the kinds read it, or _Problem
    key = param.name
    if param.type in ("float", "int"):
        number = _number(value, key, integer=param.type == "int")
        too_low = param.minimum is not None and (number <= param.minimum if param.exclusive else number < param.minimum)
        too_high = param.maximum is not None and (
            number >= param.maximum if param.exclusive else number > param.maximum
        )
        if too_low or too_high:
            raise _Problem(f"{key!r} must be {_bounds_text(param)}, got {value!r}")
        return number
    if param.type == "bool":
        if not isinstance(value, bool):
            raise _Problem(f"{key!r} must be true or false, {_got(value)}")
        return value
    if param.type == "str":
        if not isinstance(value, str):
            raise _Problem(f"{key!r} must be a string, {_got(value)}")
        if param.choices and value not in param.choices:
            raise _Problem(f"{key!r} must be one of {', '.join(map(repr, param.choices))}, got {_shown_value(value)}")
        if not param.choices and not value.strip():
            raise _Problem(f"{key!r} must not be empty")
        return value
    if param.type == "date":
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise _Problem(f"{key!r} must be a date (like 2026-06-01, no time of day), {_got(value)}")
        return value
    if param.type == "str_list":
        if not isinstance(value, list):
            raise _Problem(f"{key!r} must be {_WANTED['str_list']}, {_got(value)}")
        for v in value:
            if not isinstance(v, str):
                raise _Problem(f"{key!r} must be {_WANTED['str_list']}, {_got(v)} in the list")
        for v in value:
            if not v.strip():
                raise _Problem(f"{key!r} has an empty string")
            if param.choices and v not in param.choices:
                raise _Problem(f"{key!r}: {v!r} is not one of {', '.join(map(repr, param.choices))}")
        return tuple(dict.fromkeys(value))
    if param.type == "str_map":
        if not isinstance(value, dict):
            raise _Problem(f"{key!r} must be {_WANTED['str_map']}, {_got(value)}")
        for k, v in value.items():
            if not isinstance(v, str):
                raise _Problem(f"{key!r}: {k!r} must map to a string, {_got(v)}")
            if not v.strip():
                raise _Problem(f"{key!r}: {k!r} maps to an empty string")
        return MappingProxyType(dict(value))
    raise _Problem(f"{key!r} has an unknown parameter type {param.type!r} (a bug in its rule kind)")


def _jsonable(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    return value


def _version(
    kind: str,
    params: Mapping[str, object],
    severity: str,
    effective_from: dt.date | None,
    effective_to: dt.date | None,
    portfolios: tuple[str, ...],
) -> str:
    definition = {
        "kind": kind,
        "params": {k: _jsonable(v) for k, v in sorted(params.items())},
        "severity": severity,
        "effective_from": _jsonable(effective_from),
        "effective_to": _jsonable(effective_to),
        "portfolios": sorted(portfolios),
    }
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _key(key: str) -> str:
    # a key as a message shows it: at most 64 characters of it
    return repr(key) if len(key) <= 64 else f"{key[:60]!r}... ({len(key):,} characters)"


def _suggest(key: str, known: Iterable[str]) -> str:
    if len(key) > 64:  # no key is this long; difflib on a 100,000-character key took 27 s (found by QA)
        return ""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _kinds() -> Mapping[str, RuleKind]:
    return RULE_KINDS


def _packs() -> Mapping[str, RulePack]:
    return PACKS


@dataclass(frozen=True, slots=True)
class _Where:
    # where a rule table's keys are: each key's line, the table's line, and a label prefix
    layout: _Layout
    table: Path_
    prefix: str = ""
    fixed_line: int | None = None

    def line(self, key: str | None = None) -> int:
        if self.fixed_line is not None:
            return self.fixed_line
        return self.layout.line(self.table if key is None else (*self.table, key))


class _Reader:
    __slots__ = ("kinds", "layout", "packs", "source")

    def __init__(self, source: str, layout: _Layout) -> None:
        self.source = source
        self.layout = layout
        self.kinds = _kinds()
        self.packs = _packs()

    def fail(self, line: int, message: str) -> RulesFileError:
        return RulesFileError(f"{self.source}:{line}: {message}")

    def read(self, data: dict[str, object]) -> tuple[list[Rule], dict[tuple[str, str], str]]:
        for key in data:
            if key not in _TOP_LEVEL:
                raise self.fail(
                    self.layout.line((key,)),
                    f"unknown top-level key {_key(key)}{_suggest(key, _TOP_LEVEL)}; a rules file has "
                    "version = 1, [[rule]] tables and [[pack]] tables",
                )
        if "version" in data:
            version = data["version"]
            if type(version) is not int or version != 1:
                raise self.fail(
                    self.layout.line(("version",)),
                    f"unsupported rules file version {_shown_value(version)}; this Bifrost reads version = 1",
                )
        tables: list[tuple[int, int, int, dict[str, object]]] = []  # (line, 0 rule | 1 pack, index, table)
        for order, name in enumerate(("rule", "pack")):
            entries = data.get(name, [])
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise self.fail(
                    self.layout.line((name,)),
                    f"{name!r} must be [[{name}]] tables (an array of tables), {_got(entries)}",
                )
            for index, entry in enumerate(cast(list[dict[str, object]], entries)):
                tables.append((self.layout.line((name, index)), order, index, entry))
        tables.sort(key=lambda t: (t[0], t[1], t[2]))
        rules: list[Rule] = []
        descriptions: dict[tuple[str, str], str] = {}
        for _, order, index, entry in tables:
            if order == 0:
                where = _Where(self.layout, ("rule", index))
                rule, description = self.rule(entry, where, number=index + 1)
                rules.append(rule)
                if description:
                    descriptions[(rule.id, rule.version)] = description
            else:
                for rule, description in self.pack(entry, _Where(self.layout, ("pack", index)), number=index + 1):
                    rules.append(rule)
                    descriptions[(rule.id, rule.version)] = description
        self.check_versions(rules)
        return rules, descriptions

    def rule(self, table: Mapping[str, object], where: _Where, *, number: int) -> tuple[Rule, str]:
        p = where.prefix
        if "id" not in table:
            raise self.fail(
                where.line(), f"{p}rule #{number}: missing 'id' (every [[rule]] needs an id, like id = \"collar\")"
            )
        rule_id = table["id"]
        if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
            raise self.fail(
                where.line("id"),
                f"{p}rule #{number}: bad 'id' {_shown_value(rule_id)}: an id is a lowercase letter, then lowercase "
                "letters, digits or _ (at most 64 characters)",
            )
        if "kind" not in table:
            raise self.fail(where.line(), f"{p}rule {rule_id!r}: missing 'kind'; known kinds: {', '.join(self.kinds)}")
        kind_name = table["kind"]
        if not isinstance(kind_name, str) or kind_name not in self.kinds:
            shown = _shown_value(kind_name)
            hint = _suggest(kind_name, self.kinds) if isinstance(kind_name, str) else ""
            raise self.fail(
                where.line("kind"),
                f"{p}rule {rule_id!r}: unknown kind {shown}{hint}; known kinds: {', '.join(self.kinds)}",
            )
        kind = self.kinds[kind_name]
        label = f"{p}rule {rule_id!r} ({kind_name})"
        params_by_name = {param.name: param for param in kind.params}
        severity: Severity = "block"
        effective_from: dt.date | None = None
        effective_to: dt.date | None = None
        portfolios: tuple[str, ...] = ()
        description = ""
        params: dict[str, object] = {}
        for key, value in table.items():
            try:
                if key in ("id", "kind"):
                    continue
                if key == "severity":
                    severity = cast(
                        Severity, _convert(Param(name=key, type="str", doc="", choices=("block", "warn")), value)
                    )
                elif key in ("effective_from", "effective_to"):
                    day = cast(dt.date, _convert(Param(name=key, type="date", doc=""), value))
                    if key == "effective_from":
                        effective_from = day
                    else:
                        effective_to = day
                elif key == "portfolios":
                    portfolios = self.portfolios(value)
                elif key == "description":
                    if not isinstance(value, str):
                        raise _Problem(f"'description' must be a string, {_got(value)}")
                    if len(value) > _MAX_DESCRIPTION:
                        raise _Problem(f"'description' is {len(value)} characters; at most {_MAX_DESCRIPTION}")
                    description = value
                elif key in params_by_name:
                    param = params_by_name[key]
                    params[key] = _convert(param, value)
                    if param.type == "str_list" and param.required and not params[key]:
                        raise _Problem(f"{key!r} is empty, so the rule would do nothing; list at least one")
                else:
                    known = [*params_by_name, *_COMMON]
                    takes = ", ".join(params_by_name) or "no parameters"
                    raise _Problem(
                        f"unknown key {_key(key)}{_suggest(key, known)}; {kind_name} takes {takes} "
                        f"(and the common keys {', '.join(_COMMON)})"
                    )
            except _Problem as problem:
                raise self.fail(where.line(key), f"{label}: {problem}") from None
        for param in kind.params:
            if param.name not in params:
                if param.required:
                    raise self.fail(
                        where.line(),
                        f"{label}: missing {param.name!r} ({param.doc}; {_WANTED.get(param.type, param.type)})",
                    )
                params[param.name] = param.default
        if effective_from is not None and effective_to is not None and effective_to < effective_from:
            raise self.fail(
                where.line("effective_to"),
                f"{label}: 'effective_to' {effective_to} is before 'effective_from' {effective_from}",
            )
        ordered = {param.name: params[param.name] for param in kind.params}
        version = _version(kind_name, ordered, severity, effective_from, effective_to, portfolios)
        rule = Rule(
            id=rule_id,
            kind=kind_name,
            params=MappingProxyType(ordered),
            severity=severity,
            effective_from=effective_from,
            effective_to=effective_to,
            portfolios=portfolios,
            version=version,
            line=where.line(),
        )
        return rule, description

    def portfolios(self, value: object) -> tuple[str, ...]:
        names = cast(tuple[str, ...], _convert(Param(name="portfolios", type="str_list", doc=""), value))
        if not names:
            raise _Problem(
                "'portfolios' is empty, so the rule would apply nowhere; leave it out to apply to every portfolio"
            )
        for name in names:
            if len(name) > _MAX_NAME:
                raise _Problem(f"'portfolios': a name of {len(name)} characters; at most {_MAX_NAME}")
        return names

    def pack(self, table: Mapping[str, object], where: _Where, *, number: int) -> list[tuple[Rule, str]]:
        if "name" not in table:
            raise self.fail(where.line(), f"pack #{number}: missing 'name'; known packs: {', '.join(self.packs)}")
        name = table["name"]
        if not isinstance(name, str) or name not in self.packs:
            hint = _suggest(name, self.packs) if isinstance(name, str) else ""
            raise self.fail(
                where.line("name"),
                f"pack #{number}: unknown pack {_shown_value(name)}{hint}; known packs: {', '.join(self.packs)}",
            )
        pack = self.packs[name]
        declared = pack.params
        by_name = {param.name: param for param in declared}
        label = f"pack {name!r}"
        params: dict[str, object] = {}
        portfolios: tuple[str, ...] = ()
        for key, value in table.items():
            try:
                if key == "name":
                    continue
                if key == "portfolios":
                    portfolios = self.portfolios(value)
                elif key in by_name:
                    params[key] = _convert(by_name[key], value)
                else:
                    known = [*by_name, *_PACK_COMMON]
                    raise _Problem(
                        f"unknown key {_key(key)}{_suggest(key, known)}; {name} takes "
                        f"{', '.join(by_name) or 'no parameters'} (and name, portfolios)"
                    )
            except _Problem as problem:
                raise self.fail(where.line(key), f"{label}: {problem}") from None
        for param in declared:
            if param.name not in params:
                if param.required:
                    raise self.fail(where.line(), f"{label}: missing {param.name!r} ({param.doc})")
                params[param.name] = param.default
        try:
            expanded = pack.expand(MappingProxyType(params))
        except InvalidInputError as exc:
            mentioned = [key for key in table if key != "name" and key in str(exc)]
            line = where.line(mentioned[0]) if len(mentioned) == 1 else where.line()
            detail = str(exc).removeprefix(f"pack {name}: ")
            raise self.fail(line, f"{label}: {detail}") from None
        inner = _Where(self.layout, where.table, prefix=f"{label}: ", fixed_line=where.line())
        out: list[tuple[Rule, str]] = []
        for k, raw in enumerate(expanded):
            entry = dict(raw)
            if portfolios and "portfolios" not in entry:
                entry["portfolios"] = list(portfolios)
            rule, description = self.rule(entry, inner, number=k + 1)
            out.append((rule, description or f"from pack {name}"))
        return out

    def check_versions(self, rules: list[Rule]) -> None:
        seen: dict[str, list[Rule]] = {}
        for rule in rules:
            for earlier in seen.get(rule.id, []):
                label = f"rule {rule.id!r} ({rule.kind})"
                if earlier.kind != rule.kind:
                    raise self.fail(
                        rule.line,
                        f"{label}: the version at line {earlier.line} is of kind {earlier.kind}; "
                        "the versions of one id must be of one kind - give this rule another id",
                    )
                if _overlap(earlier, rule):
                    raise self.fail(
                        rule.line,
                        f"{label}: its effective window {_window(rule)} overlaps the version at line "
                        f"{earlier.line} ({_window(earlier)}){_portfolio_note(earlier, rule)}; one id has at most "
                        "one version in force on a day - end the earlier with effective_to before this "
                        "one's effective_from",
                    )
            seen.setdefault(rule.id, []).append(rule)


def _overlap(a: Rule, b: Rule) -> bool:
    if a.portfolios and b.portfolios and not set(a.portfolios) & set(b.portfolios):
        return False
    start = max(a.effective_from or dt.date.min, b.effective_from or dt.date.min)
    end = min(a.effective_to or dt.date.max, b.effective_to or dt.date.max)
    return start <= end


def _window(rule: Rule) -> str:
    return f"{rule.effective_from or 'always'} to {rule.effective_to or 'for ever'}"


def _portfolio_note(a: Rule, b: Rule) -> str:
    if a.portfolios or b.portfolios:
        return " for a portfolio both apply to"
    return ""


# ---------------------------------------------------------------------------------------------
# The reference doc (docs/compliance/rules-file.md), generated so that it cannot drift


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _param_rows(params: Iterable[Param]) -> list[str]:
    rows = ["| parameter | type | required | default | allowed | meaning |", "|---|---|---|---|---|---|"]
    for p in params:
        allowed = _bounds_text(p)
        if p.choices:
            allowed = " | ".join(f"`{c}`" for c in p.choices)
        default = "" if p.required or p.default is None else f"`{_show(p.default)}`"
        required = "yes" if p.required else "no"
        rows.append(f"| `{p.name}` | {p.type} | {required} | {default} | {_cell(allowed)} | {_cell(p.doc)} |")
    return rows


def _first_line(obj: object) -> str:
    doc = type(obj).__doc__ or ""
    if type(obj).__module__ == "builtins":
        return ""
    return doc.strip().split("\n\n")[0].replace("\n", " ").strip()


def rules_file_doc() -> str:
    """Return ``docs/compliance/rules-file.md``: the rules file's format, every kind's parameters, the default.

    Generated from `RULE_KINDS`, `PACKS` and `DEFAULT_RULES_TOML`; a test fails when the file
    and this text differ.
    """
    kinds = _kinds()
    packs = _packs()
    out = [
        "# The compliance rules file",
        "",
        "Generated from `bifrost.compliance._kinds.RULE_KINDS` and `PACKS` and "
        "`bifrost.compliance._rules.DEFAULT_RULES_TOML` (do not edit by hand); regenerate with",
        "",
        "```",
        ".venv/bin/python -c 'from bifrost.compliance._rules import rules_file_doc as d; print(d(), end=\"\")' \\",
        "    > docs/compliance/rules-file.md",
        "```",
        "",
        "`tests/compliance/test_rules.py` fails when this file and the code differ.",
        "",
        "## Which file applies",
        "",
        "The first of: the file given (`--rules FILE`, `load_rules(path)`); the `compliance_rules` setting "
        "(`BIFROST_COMPLIANCE_RULES`, or `compliance_rules` in `bifrost.toml`); `compliance.toml` in "
        "`BIFROST_HOME` if it exists; else the built-in default rule set (below). A file named but "
        "missing is an error (`NotFoundError`); so is a file that is not UTF-8 text or is malformed "
        "(`RulesFileError`). `bifrost compliance rules --check FILE` validates a file without using it.",
        "",
        "## Format",
        "",
        "```toml",
        "version = 1                      # optional, must be 1",
        "[[rule]]",
        'id = "collar"',
        'kind = "price_collar"',
        "max_deviation = 0.10             # the kind's parameters",
        'severity = "block"               # optional: block | warn',
        "effective_from = 2026-01-01      # optional TOML dates, inclusive",
        "effective_to = 2026-12-31",
        'portfolios = ["paper"]           # optional',
        'description = "fat finger"       # optional',
        "[[pack]]",
        'name = "finra_day_trading"',
        "switch_on = 2026-06-01",
        "```",
        "",
        "The top level takes only `version`, `[[rule]]` tables and `[[pack]]` tables. Every `[[rule]]` "
        "takes the common keys",
        "",
        "| key | meaning |",
        "|---|---|",
        *[f"| `{k}` | {_cell(v)} |" for k, v in _COMMON.items()],
        "",
        "and the parameters of its kind (below); nothing else. A `[[pack]]` takes `name`, its own "
        "parameters and `portfolios` (copied into each of its rules) and stands for the dated rules it "
        "expands into, at its place in the file.",
        "",
        "- **Verdicts.** Each rule in force says pass, warn or block, with a reason and the inputs it "
        'used. A tripped rule blocks; a rule with `severity = "warn"` only warns when it trips (the '
        "engine turns its block into a warn). Rules with a `warn_at` parameter also warn from that "
        'fraction of their limit on (`warn_at` × the limit included). A limit is "at most": a measure '
        "equal to it passes, float rounding forgiven (within a relative 1e-9: a limit 55.00 is 10% from "
        "a last price 50.00, both ways); the backtest engine compares alike. The order's verdict is the "
        "worst of its rules'.",
        "- **Dates.** `effective_from` and `effective_to` are TOML dates (a datetime is refused), both "
        "inclusive, compared with the session date (UTC) of the decision. One id may have several "
        "versions (one `[[rule]]` table each, of one kind) whose windows do not overlap, so that a rule "
        "can change on a known day and an old decision is judged by the version of its day. Versions of "
        "one id may overlap in time only when their `portfolios` are disjoint.",
        "- **Versions.** A rule's version is the first 12 hex digits of the SHA-256 of the canonical "
        "JSON of its definition (kind, parameters with defaults filled in, severity, dates, portfolios; "
        "not the description): it changes when the rule does and only then. The rules' hash is the "
        "SHA-256 of the file's whole text; the audit trail records it with the text.",
        "- **Values.** Numbers must be finite (TOML's `nan` and `inf` are refused) and at most 1e15 in "
        "magnitude; an integer is taken where a float is wanted, not the other way round. Each "
        "parameter has the bounds of its table below (windows at most a day, `sessions` at most 10: "
        "the order manager loads 10 sessions of fills), so that no accepted value fails a decision.",
        "- **An empty file** (or comments only) is allowed and means no rules: every order passes "
        "compliance; `bifrost compliance rules` says so.",
        "- **Errors** name the line, the rule, its kind and the key, e.g. "
        "`compliance.toml:12: rule 'collar' (price_collar): unknown key 'max_deviaton' (did you mean "
        "'max_deviation'?)`. A refused file changes nothing: the rules in use stay in use.",
        "",
        "## Rule kinds",
        "",
    ]
    for name, kind in kinds.items():
        out.append(f"### `{name}`")
        out.append("")
        summary = _first_line(kind)
        if summary:
            out.extend([summary, ""])
        out.append(f"Stage: {kind.stage}; compilable into backtests: {'yes' if kind.compilable else 'no'}.")
        out.append("")
        if kind.params:
            out.extend(_param_rows(kind.params))
        else:
            out.append("No parameters.")
        out.append("")
    out.extend(["## Packs", ""])
    for name, pack in packs.items():
        out.append(f"### `{name}`")
        out.append("")
        summary = _first_line(pack)
        if summary:
            out.extend([summary, ""])
        declared = pack.params
        out.extend(_param_rows(declared) if declared else ["No parameters."])
        out.append("")
    out.extend(
        [
            "## The default rule set",
            "",
            "Applies when no rules file is found (`bifrost.compliance.DEFAULT_RULES_TOML`, parsed by the "
            "same loader; source `default`):",
            "",
            "```toml",
            DEFAULT_RULES_TOML.rstrip("\n"),
            "```",
            "",
        ]
    )
    return "\n".join(out)
