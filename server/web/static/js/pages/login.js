// Sign in: POST /auth/token, the token kept in sessionStorage for this tab only.

import { signIn } from "../api.js";
import { h, problem } from "../dom.js";

export async function loginPage(page, _params, query, { go }) {
  const error = h("div", { class: "login-error", "aria-live": "polite" });
  const username = h("input", {
    name: "username",
    id: "username",
    autocomplete: "username",
    required: true,
    maxlength: 64,
    autofocus: true,
  });
  const password = h("input", {
    name: "password",
    id: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
    maxlength: 1024,
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "login card", onsubmit: onSubmit },
    h("h1", {}, "Sign in"),
    h("p", { class: "lede" }, "Trace units, review batches and recalls, verify packs."),
    h("label", { for: "username" }, "User name"),
    username,
    h("label", { for: "password" }, "Password"),
    password,
    error,
    submit,
  );
  page.append(form);
  username.focus();

  async function onSubmit(event) {
    event.preventDefault();
    submit.disabled = true;
    error.replaceChildren();
    try {
      await signIn(username.value, password.value);
      const next = query.get("next");
      go(next?.startsWith("/ui/") && !next.startsWith("/ui/login") ? next : "/ui/", {
        replace: true,
      });
    } catch (failure) {
      error.replaceChildren(
        failure.status === 401
          ? problem({ status: 401, detail: loginDetail(failure.detail) })
          : failure.status === 429 || failure.status === 403
            ? h(
                "div",
                { class: "problem status-locked", role: "alert", id: "login-locked" },
                h("strong", {}, "Sign-in refused"),
                h("span", {}, failure.detail),
              )
            : problem(failure),
      );
      password.value = "";
      password.focus();
    } finally {
      submit.disabled = false;
    }
  }
}

// The server says when a wrong password has just locked the user name.
function loginDetail(detail) {
  const locked = (detail ?? "").includes("now locked");
  return locked
    ? "User name or password wrong. Too many failed attempts: the user name is now locked."
    : "User name or password wrong.";
}
