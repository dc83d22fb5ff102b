"""A portfolio's name is a key in both backends' state tables: printable text, refused otherwise."""

from __future__ import annotations

import pytest

from bifrost.data import BarStore
from bifrost.errors import InvalidInputError
from bifrost.portfolio import create_portfolio, load_portfolio, record_transactions
from tests.conftest import embedded_and_postgres


@embedded_and_postgres
@pytest.mark.parametrize("name", ["", " ", "A\x00B", "A\tB", "line\nbreak", "N" * 257])
def test_portfolio_bad_name_is_refused_on_both_backends(store: BarStore, name: str) -> None:
    # before: a NUL was stored by SQLite and a psycopg.DataError traceback on PostgreSQL
    with pytest.raises(InvalidInputError, match="a portfolio name must be printable text of 1-256 characters"):
        create_portfolio(store, name, inception="2014-01-01")
    with pytest.raises(InvalidInputError, match="portfolio name"):
        load_portfolio(store, name)
    with pytest.raises(InvalidInputError, match="portfolio name"):
        record_transactions(store, name, [], create=True)


@embedded_and_postgres
def test_portfolio_name_with_spaces_and_unicode_is_kept_as_given(store: BarStore) -> None:
    create_portfolio(store, "Core Book – Ω", inception="2014-01-01")
    assert load_portfolio(store, "Core Book – Ω").name == "Core Book – Ω"
