"""Numba kernels compiled on first use and cached in the user's cache folder.

Importing a module of kernels compiles nothing and touches no file: `njit` makes numba's
dispatcher without a cache, and `kernel` (for an entry point with a fixed signature, which
numba would otherwise compile while the module is imported) makes even the dispatcher on
the first call. The first call of a kernel (through `kernel`, or after `ready()`, which
the Python wrappers of the other kernels call) switches caching on for every kernel
declared with `njit`, in :func:`cache_dir`:

1. ``BIFROST_NUMBA_CACHE_DIR`` when set;
2. else ``NUMBA_CACHE_DIR`` (numba's own variable) when set;
3. else ``$XDG_CACHE_HOME/bifrost/numba`` (``~/.cache/bifrost/numba`` without XDG_CACHE_HOME).

Never the source tree: numba's default puts its cache in the ``__pycache__`` folder beside
the module when it can write there, which is the installed package. A cache folder that
cannot be created or written leaves the kernels uncached (compiled in each process) with
one logged warning, rather than falling back on the source tree. ``bifrost warm``
(`bifrost.strategy.warm`) fills the cache once.

The cache lives in a subfolder of that folder named by a digest of every bifrost module that
declares kernels (`kernel_sources_digest`). numba checks a cached kernel against its *own*
file only, so a kernel that compiles in an `njit` function from another file (the backtest
kernel calls the fill rules of ``bifrost/execution/_fills.py``) would keep running the old
code after only that other file changed; with the digest, any change to any kernel file (an
upgrade, an edit) compiles everything afresh, and never runs stale code.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

__all__ = ["cache_dir", "cache_enabled", "compile_counts", "kernel", "kernel_sources_digest", "njit", "ready"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_F = TypeVar("_F", bound=Callable[..., Any])

# the dispatchers declared so far, to switch caching on at the first kernel call: a
# process-wide list because numba's dispatchers are process-wide objects themselves
_declared: list[Any] = []
_lock = threading.RLock()
_state: dict[str, Path | None] = {}  # "dir": the cache folder once ready() ran (None: no cache)
_SETTING = "CACHE_DIR"  # numba.core.config's (NUMBA_CACHE_DIR), which its stubs do not declare


def cache_dir(environ: dict[str, str] | None = None) -> Path:
    """Return the folder numba's cache of bifrost's kernels goes to (see the module's notes).

    Parameters
    ----------
    environ
        The environment to read (default ``os.environ``).
    """
    env = os.environ if environ is None else environ
    for name in ("BIFROST_NUMBA_CACHE_DIR", "NUMBA_CACHE_DIR"):
        if env.get(name, "").strip():
            return Path(env[name].strip()).expanduser()
    base = env.get("XDG_CACHE_HOME", "").strip()
    root = Path(base).expanduser() if base else Path("~").expanduser() / ".cache"
    return root / "bifrost" / "numba"


def cache_enabled() -> Path | None:
    """Return the cache folder in use once a kernel has run (None: not yet, or not writable)."""
    return _state.get("dir")


def kernel_sources_digest(root: Path | None = None) -> str:
    """Return a digest of the source of every module under ``root`` that declares kernels.

    A module declares kernels when it imports from ``bifrost._jit``. ``root`` defaults to
    the installed bifrost package. The digest names the cache's subfolder (see the module's notes).
    """
    package = Path(__file__).parent if root is None else root
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        text = path.read_bytes()
        if b"bifrost._jit import" in text:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + text + b"\0")
    return digest.hexdigest()[:16]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _enable(dispatchers: list[Any], folder: Path) -> None:
    # numba picks a dispatcher's cache folder when its cache is made: make it with numba's
    # own setting pointing at ours (and put the setting back: other users' kernels keep theirs)
    from numba.core import config

    saved = getattr(config, _SETTING)
    setattr(config, _SETTING, str(folder / _sources()))
    try:
        for dispatcher in dispatchers:
            dispatcher.enable_caching()
    finally:
        setattr(config, _SETTING, saved)


def _sources() -> str:
    # the digest of this process's kernel sources, read once
    if "digest" not in _digest:
        _digest["digest"] = kernel_sources_digest()
    return _digest["digest"]


_digest: dict[str, str] = {}


def ready() -> None:
    """Switch caching on for every kernel declared so far (cheap after the first call)."""
    if "dir" in _state:
        return
    with _lock:
        if "dir" in _state:
            return
        folder = cache_dir()
        if _writable(folder / _sources()):
            _state["dir"] = folder
            _enable(_declared, folder)
        else:
            # a warning, not a log line: the command line shows it as `bifrost: warning: ...` (found by QA)
            warnings.warn(
                f"numba cache folder {folder} cannot be written: kernels compile in every process "
                "(set BIFROST_NUMBA_CACHE_DIR to a writable folder)",
                RuntimeWarning,
                stacklevel=2,
            )
            _state["dir"] = None


def njit(*, cache: bool = True, **options: Any) -> Callable[[_F], _F]:
    """Decorate a numba kernel like ``numba.njit(**options)``, cached from the first kernel call.

    The kernel compiles when first called, as numba's lazy dispatchers do; its Python
    caller calls :func:`ready` first (a kernel called only from other kernels needs nothing).
    """

    def decorate(fn: _F) -> _F:
        import numba

        dispatcher = numba.njit(**options)(fn)
        if cache:
            with _lock:
                _declared.append(dispatcher)
                if (folder := _state.get("dir")) is not None:  # declared after the first kernel call
                    _enable([dispatcher], folder)
        return cast(_F, dispatcher)

    return decorate


class _Kernel:
    # an entry point called from Python, made (and compiled, or loaded from the cache) on its first call

    def __init__(self, fn: Callable[..., Any], signature: Any, options: dict[str, Any]) -> None:
        self.__wrapped__ = fn
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__doc__ = fn.__doc__
        self._signature = signature
        self._options = options
        self.dispatcher: Any = None  # numba's, once called

    def _build(self) -> Any:
        with _lock:
            if self.dispatcher is None:
                ready()
                import numba

                dispatcher = numba.njit(**self._options)(self.__wrapped__)
                folder = _state.get("dir")
                if folder is not None:
                    _enable([dispatcher], folder)
                if self._signature is not None:
                    # what numba.njit(signature, cache=True) does, at the first call instead of the import
                    dispatcher.compile(self._signature)
                    dispatcher.disable_compile()
                self.dispatcher = dispatcher
                _built.append(dispatcher)
            return self.dispatcher

    def __call__(self, *args: Any) -> Any:
        dispatcher = self.dispatcher if self.dispatcher is not None else self._build()
        return dispatcher(*args)

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled by reference, as a function is (Ray ships the name, never a dispatcher)
        return (_module_attribute, (self.__module__, self.__qualname__))


_built: list[Any] = []  # the entry points' dispatchers, once made


def _module_attribute(module: str, name: str) -> Any:
    import importlib

    return getattr(importlib.import_module(module), name)


def kernel(signature: Any = None, **options: Any) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorate a kernel called from Python: made on its first call and cached in :func:`cache_dir`.

    With a ``signature``, only it is compiled (arguments are converted to it), as
    ``numba.njit(signature, cache=True)`` does — but on the first call, not while the
    module is imported. Without one, each new argument type compiles, as numba's lazy
    dispatchers do. A kernel called from other kernels is declared with :func:`njit`.
    """

    def decorate(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        return cast(Callable[_P, _R], _Kernel(fn, signature, dict(options)))

    return decorate


def compile_counts() -> tuple[int, int]:
    """Return ``(loaded, compiled)``: how many kernel versions this process took from the cache or compiled."""
    loaded = compiled = 0
    with _lock:
        for dispatcher in (*_declared, *_built):
            loaded += sum(dispatcher.stats.cache_hits.values())
            compiled += sum(dispatcher.stats.cache_misses.values())
    return loaded, compiled
