"""Debian's Chromium, driven by Playwright (never a downloaded browser), and the one way the
browser tests open a tab and sign in.

``with signed_in(browser, url, "qa", PASSWORD) as tab:`` gives a fresh tab on ``url`` with the
user signed in to the QA web UI (``form=HMI`` for the edge's operator panel) and fails the
test if a script error happened in the page. ``browser_tab`` is the same without signing in,
``sign_in`` / ``submit_sign_in`` sign in on a tab already open.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

CHROMIUM = Path(os.environ.get("SERIALTRACE_CHROMIUM", "/usr/bin/chromium"))
#: As root, without a sandbox; no background traffic to the (closed) network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class SignInForm:
    """Where a web UI's sign-in form is and what shows that the user is signed in."""

    path: str
    """The page that shows the form (a relative URL)."""
    user: str
    password: str
    submit: str
    signed_in: str
    """A selector that appears once the user is signed in."""
    opener: str | None = None
    """A button that opens the form first, if it is not on the page from the start."""
    signed_in_text: str | None = None
    """The text of the ``signed_in`` element then, ``{user}`` for the user (checked, not only
    waited for)."""


QA_UI = SignInForm(
    "/ui/", "#username", "#password", "form.login button[type=submit]", signed_in="#code"
)
"""The trace server's QA web UI: the form is the page until someone signs in."""
HMI = SignInForm(
    "/hmi/",
    "#login-name",
    "#login-password",
    "#login-submit",
    signed_in="#operator",
    opener="#btn-login",
    signed_in_text="Operator: {user}",
)
"""The edge's operator panel: the sign-in dialog opens from the header."""


def submit_sign_in(tab: Page, user: str, password: str, form: SignInForm = QA_UI) -> None:
    """Fill the form on the page ``tab`` shows and submit it; nothing waited for (a test of a
    refused sign-in checks the answer itself)."""
    if form.opener is not None:
        tab.click(form.opener)
    tab.fill(form.user, user)
    tab.fill(form.password, password)
    tab.click(form.submit)


def sign_in(
    tab: Page,
    user: str,
    password: str,
    form: SignInForm = QA_UI,
    *,
    go: bool = True,
    timeout_ms: float | None = None,
) -> None:
    """Sign ``user`` in (first opening ``form.path`` unless ``go`` is False) and wait until
    the UI shows it: at most ``timeout_ms`` if given, else as long as ``expect`` and the tab
    wait by default (other modules set ``expect``'s default for their process)."""
    if go:
        tab.goto(form.path)
    submit_sign_in(tab, user, password, form)
    if form.signed_in_text is not None:
        expect(tab.locator(form.signed_in)).to_have_text(
            form.signed_in_text.format(user=user), timeout=timeout_ms
        )
    else:
        tab.wait_for_selector(form.signed_in, timeout=timeout_ms)


@contextmanager
def browser_tab(
    browser: Browser,
    url: str,
    *,
    viewport: tuple[int, int] = (1280, 900),
    timeout_ms: float = 10_000,
    **context_options: Any,
) -> Iterator[Page]:
    """A fresh tab (own context, so own sessionStorage) on ``url``; on leaving, the context
    closes and the test fails if any script error happened in the page."""
    width, height = viewport
    context = browser.new_context(
        base_url=url, viewport={"width": width, "height": height}, **context_options
    )
    context.set_default_timeout(timeout_ms)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], f"script errors in the page: {errors}"


@contextmanager
def signed_in(
    browser: Browser,
    url: str,
    user: str,
    password: str,
    form: SignInForm = QA_UI,
    **tab_options: Any,
) -> Iterator[Page]:
    """:func:`browser_tab` with ``user`` signed in through ``form``."""
    with browser_tab(browser, url, **tab_options) as tab:
        sign_in(tab, user, password, form)
        yield tab
