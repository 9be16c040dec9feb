"""The scheme registry and the protocols' runtime checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import gs1
from identity import (
    CodeScheme,
    IdentityError,
    UnitIdentity,
    UnitKey,
    check_key,
    get_scheme,
    register_scheme,
    scheme_names,
    schemes,
    unregister_scheme,
)
from tests.identity.toy import TOY, ToyCode, ToyScheme


@pytest.fixture
def toy() -> Iterator[ToyScheme]:
    register_scheme(TOY)
    yield TOY
    unregister_scheme("toy")


def test_gs1_is_registered_on_import() -> None:
    assert get_scheme("gs1") is gs1.GS1
    assert get_scheme() is gs1.GS1  # the default
    assert "gs1" in scheme_names()


def test_a_registered_scheme_is_found_by_name(toy: ToyScheme) -> None:
    assert get_scheme("toy") is toy
    assert scheme_names() == sorted(scheme_names()) and "toy" in scheme_names()
    assert schemes()[0] is gs1.GS1  # GS1 first, then by name


def test_registering_the_same_scheme_again_is_harmless(toy: ToyScheme) -> None:
    assert register_scheme(toy) is toy


def test_another_scheme_under_a_taken_name_is_refused(toy: ToyScheme) -> None:
    with pytest.raises(IdentityError, match=r"scheme 'toy': already registered \(ToyScheme\)"):
        register_scheme(ToyScheme())
    replacement = ToyScheme()
    register_scheme(replacement, replace=True)
    assert get_scheme("toy") is replacement


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(IdentityError) as raised:
        get_scheme("nmpa")
    assert str(raised.value).startswith("scheme: expected one of [")
    assert "'gs1'" in str(raised.value) and str(raised.value).endswith("got 'nmpa'")
    with pytest.raises(IdentityError, match="got 'nmpa'"):
        unregister_scheme("nmpa")


@pytest.mark.parametrize("name", ["", "GS1", "-x", "a b", "x" * 17, "ä"])
def test_bad_scheme_names_are_refused(name: str) -> None:
    class Named(ToyScheme):
        @property
        def name(self) -> str:
            return name

    with pytest.raises(IdentityError, match=r"scheme name: expected 1 to 16 of a-z"):
        register_scheme(Named())


def test_an_object_that_is_no_scheme_is_refused() -> None:
    class NoScheme:
        name = "half"

    with pytest.raises(IdentityError, match="scheme 'half': expected a CodeScheme"):
        register_scheme(NoScheme())  # type: ignore[arg-type]


def test_protocols_are_checkable_at_run_time() -> None:
    code = ToyCode("123456", "0000000001")
    assert isinstance(code, UnitIdentity)
    assert isinstance(TOY, CodeScheme)
    assert not isinstance("TOY1234560000000001", UnitIdentity)
    assert not isinstance(object(), CodeScheme)


def test_check_key_keeps_the_store_limits() -> None:
    assert check_key(UnitKey("toy", "p" * 64, "s")) == UnitKey("toy", "p" * 64, "s")
    with pytest.raises(ValueError, match=r"toy unit serial: expected 1 to 64 characters, got 65"):
        check_key(UnitKey("toy", "p", "s" * 65))
    with pytest.raises(ValueError, match=r"toy unit product: expected 1 to 64 characters, got 0"):
        check_key(UnitKey("toy", "", "s"))
