// Shared by the reviewer pages: login + role check, top bar, small formatting helpers.

import { post, requireLogin } from "./api.js";
import { initI18n, t } from "./i18n.js";
import "./review_i18n.js";
import { el } from "./ui.js";

let wired = false;

/** Log in (reviewers and admins only), wire the top bar; resolves to the user. Run again by
 * the page's 重试 (firstLoad) when the login check failed: the top bar is wired once. */
export async function startReviewerPage() {
  if (!wired) {
    wired = true;
    initI18n();
    const logout = document.getElementById("logout");
    if (logout) {
      logout.addEventListener("click", async () => {
        await post("/api/logout").catch(() => {});
        location.assign("/login");
      });
    }
  }
  const user = await requireLogin();
  if (user.role !== "reviewer" && user.role !== "admin") {
    location.assign("/");
    return new Promise(() => {});
  }
  const who = document.getElementById("who");
  if (who) who.textContent = `${user.display_name}${user.institution ? `（${user.institution}）` : ""}`;
  return user;
}

/** A coloured badge with translated text. */
export function badge(cls, key, vars = {}) {
  return el("span", { class: `badge ${cls}`, i18n: [key, vars] });
}

/** "12 min" / "3 h" / "2 d" since an ISO time. */
export function since(iso) {
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 3600) return t("dur.min", { n: Math.round(s / 60) });
  if (s < 86400 * 2) return t("dur.hour", { n: Math.round(s / 3600) });
  return t("dur.day", { n: Math.round(s / 86400) });
}

/** The label of a finding code in the current language. */
export function codeLabel(code) {
  const key = `code.${code}`;
  const text = t(key);
  return text === key ? code : text;
}
