"""Kept for the tests of other packages that import `bifrost()` from here; the CLI's tests are in tests/cli/."""

from tests.cli import bifrost

__all__ = ["bifrost"]
