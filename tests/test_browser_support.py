"""The browser tests' one tab and sign-in helper (``tests/support/browser.py``): it fails a
test on a script error, it signs in through either UI's form, and no browser test repeats it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.browser import HMI, QA_UI, SignInForm, browser_tab, sign_in

TESTS = Path(__file__).resolve().parent
NOWHERE = "http://127.0.0.1:9"  # every request below is answered by a route, never sent

LOGIN = """<!doctype html>
<form class="login" onsubmit="event.preventDefault();
  if (password.value === 'right') document.body.innerHTML = '<input id=code>';">
  <input id="username"><input id="password" type="password">
  <button type="submit">Sign in</button>
</form>"""
PANEL = """<!doctype html>
<button id="btn-login" onclick="dialog.hidden = false">Sign in</button>
<span id="operator">Operator: -</span>
<div id="dialog" hidden><input id="login-name"><input id="login-password" type="password">
  <button id="login-submit" onclick="if (document.getElementById('login-password').value ===
    'right') document.getElementById('operator').textContent =
    'Operator: ' + document.getElementById('login-name').value">OK</button></div>"""


def serve(html: str) -> Callable[[Route], None]:
    def answer(route: Route) -> None:
        route.fulfill(body=html, content_type="text/html")

    return answer


def test_a_script_error_in_the_page_fails_the_test(browser: Browser) -> None:
    with (
        pytest.raises(AssertionError, match=r"script errors in the page: .*boom"),
        browser_tab(browser, NOWHERE) as tab,
        tab.expect_event("pageerror"),
    ):
        tab.set_content("<script>throw new Error('boom')</script>")


def test_a_clean_page_passes(browser: Browser) -> None:
    with browser_tab(browser, NOWHERE, viewport=(800, 600)) as tab:
        tab.set_content("<p>fine</p>")
        assert tab.viewport_size == {"width": 800, "height": 600}


@pytest.mark.parametrize(("form", "page"), [(QA_UI, LOGIN), (HMI, PANEL)], ids=["qa", "hmi"])
def test_sign_in_goes_to_the_form_and_waits_for_the_signed_in_ui(
    browser: Browser, form: SignInForm, page: str
) -> None:
    with browser_tab(browser, NOWHERE, timeout_ms=5_000) as tab:
        tab.route("**/*", serve(page))
        sign_in(tab, "op1", "right", form)
        assert tab.url == NOWHERE + form.path
    # a refused sign-in is never taken for a signed-in UI
    with browser_tab(browser, NOWHERE, timeout_ms=1_000) as tab:
        tab.route("**/*", serve(page))
        refused = AssertionError if form.signed_in_text else PlaywrightTimeout
        with pytest.raises(refused):
            sign_in(tab, "op1", "wrong", form, timeout_ms=1_000)


def test_no_browser_test_repeats_the_tab_or_sign_in_set_up() -> None:
    repeated = ("pageerror", "new_context(", '"#username"', '"#login-name"', '"#btn-login"')
    found = [
        f"{path.relative_to(TESTS)}: {needle}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != Path(__file__).name and path != TESTS / "support" / "browser.py"
        for needle in repeated
        if needle in path.read_text(encoding="utf-8")
    ]
    assert found == []
