"""Code schemes by name: :func:`register_scheme`, :func:`get_scheme`."""

from __future__ import annotations

import re
import threading

from identity.protocols import CodeScheme

SCHEME_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,15}")
"""A scheme name: 1-16 characters of ``a-z``, ``0-9``, ``-`` (``units.scheme`` is 16 wide)."""

DEFAULT_SCHEME = "gs1"

_SCHEMES: dict[str, CodeScheme] = {}
_LOCK = threading.Lock()


class IdentityError(ValueError):
    """An unknown scheme, a bad scheme name, or a name registered twice."""


def register_scheme(scheme: CodeScheme, *, replace: bool = False) -> CodeScheme:
    """Make ``scheme`` known under ``scheme.name``; registering another object under a
    taken name raises :class:`IdentityError` unless ``replace``. Returns ``scheme``."""
    name = scheme.name
    if not SCHEME_NAME.fullmatch(name):
        raise IdentityError(
            f"scheme name: expected 1 to 16 of a-z, 0-9, '-' (starting with a letter or"
            f" digit), got {name!r}"
        )
    if not isinstance(scheme, CodeScheme):
        raise IdentityError(
            f"scheme {name!r}: expected a CodeScheme (name, unit, read, parse_epc),"
            f" got {type(scheme).__name__}"
        )
    with _LOCK:
        known = _SCHEMES.get(name)
        if known is not None and known is not scheme and not replace:
            raise IdentityError(
                f"scheme {name!r}: already registered ({type(known).__name__});"
                " pass replace=True to replace it"
            )
        _SCHEMES[name] = scheme
    return scheme


def unregister_scheme(name: str) -> None:
    """Forget scheme ``name`` (tests; a running line keeps its schemes)."""
    with _LOCK:
        if _SCHEMES.pop(name, None) is None:
            raise IdentityError(f"scheme: expected one of {scheme_names()}, got {name!r}")


def get_scheme(name: str = DEFAULT_SCHEME) -> CodeScheme:
    """The scheme registered as ``name``; :class:`IdentityError` listing the known ones if
    none is. ``"gs1"`` is registered when :mod:`gs1` is imported."""
    scheme = _SCHEMES.get(name)
    if scheme is None:
        raise IdentityError(f"scheme: expected one of {scheme_names()}, got {name!r}")
    return scheme


def scheme_names() -> list[str]:
    """The registered schemes' names, sorted."""
    return sorted(_SCHEMES)


def schemes() -> tuple[CodeScheme, ...]:
    """The registered schemes, GS1 first, then by name."""
    with _LOCK:
        return tuple(sorted(_SCHEMES.values(), key=lambda s: (s.name != DEFAULT_SCHEME, s.name)))
