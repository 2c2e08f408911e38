// Login page: POST /api/login, then go to ?next= (same-site paths only) or the role's home.

import { ApiError, post, showError } from "./api.js";
import { initI18n, setText, t } from "./i18n.js";
import { safeNext } from "./nav.js";
import { $, entryLoaded } from "./ui.js";

const HOME = { salesperson: "/sales", reviewer: "/review", admin: "/sales" };

async function submit(event) {
  event.preventDefault();
  const form = $("#login-form");
  const errorEl = $("#login-error");
  const button = $("#login-submit");
  const username = form.username.value.trim();
  const password = form.password.value;
  showError(errorEl, null);
  if (!username || !password) {
    const missing = !username ? "login.username" : "login.password";
    errorEl.hidden = false;
    setText(errorEl, "validation.required", { field: t(missing) });
    (!username ? form.username : form.password).focus();
    return;
  }
  button.disabled = true;
  setText(button, "login.busy");
  try {
    const data = await post("/api/login", { username, password });
    const next = new URLSearchParams(location.search).get("next");
    location.assign(safeNext(next, location.origin) || HOME[data.user.role] || "/");
  } catch (err) {
    showError(errorEl, err);
    if (err instanceof ApiError && err.status === 401) form.password.select();
    button.disabled = false;
    setText(button, "login.submit");
  }
}

initI18n();
$("#login-form").addEventListener("submit", submit);
// Disabled in the HTML until now: sent before this handler, the browser would post the form
// itself (password included) and show the server's raw refusal.
$("#login-submit").disabled = false;
$("#username").focus();
entryLoaded("login.js");
