"""Kernels compile on their first call, never at import, and cache in the user's cache folder.

Each check runs in a fresh interpreter (a process's numba state is process-wide): what
importing bifrost.strategy compiles, where the first kernel call writes its cache, and
that a second process loads it. Import times are printed for the record, never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bifrost
from bifrost._jit import cache_dir, kernel_sources_digest

PACKAGE = Path(bifrost.__file__).parent

IMPORT_ONLY = """
import json, sys, time
t = time.perf_counter()
import bifrost.strategy
seconds = time.perf_counter() - t
from numba.core.dispatcher import Dispatcher
from bifrost._jit import _Kernel
compiled, lazy, built = [], set(), 0
for name, module in list(sys.modules.items()):
    if not name.startswith("bifrost"):
        continue
    for attr, value in list(vars(module).items()):
        if isinstance(value, Dispatcher) and value.signatures:
            compiled.append(f"{name}.{attr}")
        if isinstance(value, _Kernel):
            lazy.add(f"{value.__module__}.{value.__name__}")
            built += value.dispatcher is not None
print(json.dumps({"seconds": seconds, "compiled": compiled, "lazy": sorted(lazy), "built": built}))
"""

FIRST_CALL = """
import json
import numpy as np
from bifrost.strategy import indicators
from bifrost.strategy import _indicators as I
indicators.sma(np.arange(50.0), 5)
stats = I._sma_1d.stats
print(json.dumps({"hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values()),
                  "path": stats.cache_path}))
"""


def _run(code: str, **env: str) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items() if k not in ("BIFROST_NUMBA_CACHE_DIR", "NUMBA_CACHE_DIR")}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**environ, **env}, capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    out["stderr"] = done.stderr
    return out


def _in_tree_caches() -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in PACKAGE.rglob("*.nb[ic]")}


def test_importing_bifrost_strategy_compiles_nothing_and_writes_no_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    out = _run(IMPORT_ONLY, BIFROST_NUMBA_CACHE_DIR=str(cache))
    print(f"import bifrost.strategy: {out['seconds']:.2f} s")  # measured, not asserted
    assert out["compiled"] == []  # numba compiled (or loaded) no kernel while importing
    # the entry points (the engine's two, perf_stats' kernel) wait for their first call
    assert out["lazy"] == [
        "bifrost.analytics._kernels.column_stats",
        "bifrost.strategy._kernel.simulate_metrics",
        "bifrost.strategy._kernel.simulate_recorded",
    ]
    assert out["built"] == 0
    assert not cache.exists()  # nor did it touch the cache folder


def test_first_kernel_call_caches_in_the_user_folder_not_the_source_tree(tmp_path: Path) -> None:
    before = _in_tree_caches()
    cache = tmp_path / "numba"
    first = _run(FIRST_CALL, BIFROST_NUMBA_CACHE_DIR=str(cache))
    assert first["misses"] == 1 and first["hits"] == 0  # compiled here, and saved
    assert str(first["path"]).startswith(str(cache))
    assert any(cache.rglob("_indicators._sma_1d-*.nbi"))
    second = _run(FIRST_CALL, BIFROST_NUMBA_CACHE_DIR=str(cache))
    assert second["hits"] == 1 and second["misses"] == 0  # the next process loads it
    assert _in_tree_caches() == before  # nothing new or rewritten in the package's folders


def test_numba_cache_dir_is_honoured_and_the_xdg_default_applies(tmp_path: Path) -> None:
    out = _run(FIRST_CALL, NUMBA_CACHE_DIR=str(tmp_path / "numba-own"))
    assert str(out["path"]).startswith(str(tmp_path / "numba-own"))
    out = _run(FIRST_CALL, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    assert str(out["path"]).startswith(str(tmp_path / "xdg" / "bifrost" / "numba"))


def test_cache_dir_precedence() -> None:
    assert cache_dir({"BIFROST_NUMBA_CACHE_DIR": "/a", "NUMBA_CACHE_DIR": "/b", "XDG_CACHE_HOME": "/c"}) == Path("/a")
    assert cache_dir({"NUMBA_CACHE_DIR": "/b", "XDG_CACHE_HOME": "/c"}) == Path("/b")
    assert cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/bifrost/numba")
    assert cache_dir({"BIFROST_NUMBA_CACHE_DIR": "  ", "HOME": "/h"}) == Path("~/.cache/bifrost/numba").expanduser()


@pytest.mark.skipif(os.name != "posix", reason="a file as a folder's parent is refused on POSIX")
def test_an_unwritable_cache_folder_compiles_uncached_with_a_warning_never_in_tree(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = _in_tree_caches()
    out = _run(FIRST_CALL, BIFROST_NUMBA_CACHE_DIR=str(blocker / "numba"))
    assert out["path"] is None and out["misses"] == 1  # computed, not cached
    assert "cannot be written: kernels compile in every process" in str(out["stderr"])
    assert _in_tree_caches() == before


def test_first_kernel_call_caches_under_the_digest_of_the_kernel_sources(tmp_path: Path) -> None:
    cache = tmp_path / "numba"
    out = _run(FIRST_CALL, BIFROST_NUMBA_CACHE_DIR=str(cache))
    assert str(out["path"]).startswith(str(cache / kernel_sources_digest()))


def test_kernel_sources_digest_changes_with_any_kernel_file_and_only_those(tmp_path: Path) -> None:
    # numba checks a cached kernel against its own file only: a kernel compiling in the fill
    # rules of another file would keep running the old rules; the digest changes with either file
    (tmp_path / "rules.py").write_text("from bifrost._jit import njit\n\n@njit()\ndef slip(x):\n    return x\n")
    (tmp_path / "engine.py").write_text("from bifrost._jit import kernel\nfrom rules import slip\n")
    (tmp_path / "plain.py").write_text("X = 1\n")
    first = kernel_sources_digest(tmp_path)
    (tmp_path / "plain.py").write_text("X = 2\n")
    assert kernel_sources_digest(tmp_path) == first
    (tmp_path / "rules.py").write_text("from bifrost._jit import njit\n\n@njit()\ndef slip(x):\n    return 2 * x\n")
    assert kernel_sources_digest(tmp_path) != first


def test_kernel_sources_digest_covers_the_fill_rules_the_backtest_kernel_compiles_in() -> None:
    fills = (PACKAGE / "execution" / "_fills.py").read_bytes()
    assert b"bifrost._jit import" in fills  # so an edit of the fill rules recompiles the backtest kernel
