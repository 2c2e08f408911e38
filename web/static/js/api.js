// fetch wrapper for the JSON API: sends JSON and the CSRF token, turns the server's error shape
// {"error": {"code", "message", "details"}} into an ApiError, and shows errors to the user.

import { has, setText, t } from "./i18n.js";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
// A GET on a weak phone network can hang for minutes (no answer, no error): give up after this
// and say so, so that the page offers a retry instead of "加载中…" for ever. Not for POSTs: a
// create that timed out here may still have been done by the server.
const GET_TIMEOUT_MS = 20000;
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

/** Remember the CSRF token returned by /api/login or /api/me. */
export function setCsrf(token) {
  csrfToken = token || null;
}

/** Call the API; resolves to the parsed JSON body, rejects with ApiError. */
export async function api(method, path, body = undefined, options = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  // Callers with their own signal (the call's heartbeat) keep their own limit.
  const limit = method === "GET" && !options.signal ? new AbortController() : null;
  const timer = limit ? setTimeout(() => limit.abort(), GET_TIMEOUT_MS) : null;
  let response;
  let text;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      keepalive: Boolean(options.keepalive),
      signal: limit ? limit.signal : options.signal,
    });
    text = await response.text();
  } catch (err) {
    if (limit && limit.signal.aborted) throw new ApiError(0, "timeout", t("error.timeout"));
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", t("error.network"));
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(
      response.status,
      e.code || `http_${response.status}`,
      e.message || `${response.status} ${response.statusText}`,
      e.details,
    );
  }
  return data;
}

export const get = (path, options) => api("GET", path, undefined, options);
export const post = (path, body = {}, options) => api("POST", path, body, options);

/** The logged-in user (and its CSRF token); sends anonymous visitors to the login page. */
export async function requireLogin() {
  try {
    const me = await get("/api/me");
    setCsrf(me.csrf_token);
    return me.user;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      const next = encodeURIComponent(location.pathname + location.search);
      location.assign(`/login?next=${next}`);
      return new Promise(() => {}); // the page is going away
    }
    throw err;
  }
}

/** Whether trying err's request again may help (the network, a timeout, a server or proxy
 * error, too many requests) rather than give the same answer (an expired link, a refusal). */
export function retryable(err) {
  if (!(err instanceof ApiError)) return true;
  return err.status === 0 || err.status >= 500 || err.status === 408 || err.status === 429;
}

/** The page's first requests, fn (login, then its data): resolves to fn's answer. When fn
 * fails in a way trying again may help (the network, a timeout, a proxy's 502), the page says
 * so in #page-error and its 重试 (#load-retry) runs fn again, instead of a page that only a
 * reload brings back (a salesperson mid-call, a reviewer with filters set, lose their place
 * on a reload). Any other failure (the session is not yours, the link expired) is thrown. */
export async function firstLoad(fn) {
  const error = document.getElementById("page-error");
  const retry = document.getElementById("load-retry");
  for (;;) {
    try {
      const out = await fn();
      showError(error, null);
      return out;
    } catch (err) {
      if (!retry || !retryable(err)) throw err;
      showError(error, err);
      retry.hidden = false;
      await new Promise((resolve) => retry.addEventListener("click", resolve, { once: true }));
      retry.hidden = true;
      showError(error, null);
    }
  }
}

/** The translation key (and its values) that says err in the page's language, or null. */
function errorKey(err) {
  if (err instanceof ApiError) {
    if (has(`err.${err.code}`)) return [`err.${err.code}`, {}];
    if (err.code === "network" || err.code === "timeout") return [`error.${err.code}`, {}];
    // A proxy's page (502/504 from nginx, not our JSON) or a server error: its own text is
    // English ("502 Bad Gateway", "internal error"), not for a customer reading Chinese.
    if (err.status >= 500 || err.code === `http_${err.status}`) return ["error.server", { status: err.status }];
    return null;
  }
  if (err && err.i18nKey && has(err.i18nKey)) return [err.i18nKey, { message: err.message || err.name }];
  return null;
}

/** A user-facing message for err: a translation of its code when we have one, else its message. */
export function errorText(err) {
  const known = errorKey(err);
  if (known) return t(known[0], known[1]);
  if (err instanceof ApiError) return err.message;
  return t("error.generic", { message: (err && err.message) || String(err) });
}

/** Show err in el (a role="alert" element), or clear el when err is null. */
export function showError(el, err) {
  if (!el) return;
  if (!err) {
    el.hidden = true;
    el.textContent = "";
    delete el.dataset.i18n;
    return;
  }
  el.hidden = false;
  const known = errorKey(err);
  if (known) setText(el, known[0], known[1]); // follows the language switch
  else {
    delete el.dataset.i18n;
    el.textContent = errorText(err);
  }
}
