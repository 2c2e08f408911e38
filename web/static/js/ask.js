// A yes/no question asked inside the page (离开通话? 作废客户链接? 结束录制?), never with
// window.confirm. An Android app's WebView shows no JavaScript dialog unless the app handles
// it (WebChromeClient.onJsConfirm): confirm() then answers false at once without showing
// anything, and some apps take it away, so the button did nothing at all; a page cannot tell
// such a confirm from a real one, so there is no browser box to fall back on. A plain element,
// not <dialog>.showModal(), which needs Safari 15.4 (iOS 14.3 is promised). Its strings follow
// the language switch.

import { addStrings, setText, t } from "./i18n.js";
import { el } from "./ui.js";

addStrings("zh-CN", {
  "ask.yes": "确定",
  "ask.no": "取消",
  "ask.leave_yes": "离开通话",
  "ask.leave_no": "继续通话",
});
addStrings("en", {
  "ask.yes": "OK",
  "ask.no": "Cancel",
  "ask.leave_yes": "Leave the call",
  "ask.leave_no": "Stay in the call",
});

let open = null; // {finish} of the question on screen

/**
 * Ask `question` (an i18n key) with two buttons, `no` (focused first: a slip of the finger
 * must not leave the call) and `yes`; resolves true for yes. Escape and a tap beside the box
 * answer no. A second question replaces the first, which is answered no. `title` (an i18n
 * key) heads the box and `details` (elements) follow the question.
 */
export function askInPage(
  question,
  { yes = "ask.yes", no = "ask.no", vars = {}, title = null, details = [], danger = false } = {},
) {
  if (open) open.finish(false);
  const before = document.activeElement;
  const noButton = el("button", { type: "button", id: "ask-no", class: "btn secondary", i18n: [no] });
  const yesButton = el("button", { type: "button", id: "ask-yes", class: danger ? "btn danger" : "btn", i18n: [yes] });
  const text = el("p", { id: "ask-text" });
  setText(text, question, vars);
  const box = el(
    "div",
    { class: "ask-box", role: "alertdialog", "aria-modal": "true", "aria-labelledby": "ask-text" },
    ...(title ? [el("h2", { id: "ask-title", i18n: [title] })] : []),
    text,
    ...details,
    el("div", { class: "btn-row" }, noButton, yesButton),
  );
  const backdrop = el("div", { class: "ask", id: "ask" }, box);
  return new Promise((resolve) => {
    const finish = (answer) => {
      if (open !== current) return;
      open = null;
      backdrop.remove();
      if (before && before.isConnected && typeof before.focus === "function") before.focus();
      resolve(answer);
    };
    const current = { finish };
    open = current;
    noButton.addEventListener("click", () => finish(false));
    yesButton.addEventListener("click", () => finish(true));
    backdrop.addEventListener("click", (event) => event.target === backdrop && finish(false));
    backdrop.addEventListener("keydown", (event) => {
      if (event.key === "Escape") finish(false);
      else if (event.key === "Tab") {
        // Keep Tab between the two buttons: the page behind is not for now.
        event.preventDefault();
        (document.activeElement === noButton ? yesButton : noButton).focus();
      }
    });
    document.body.append(backdrop);
    noButton.focus();
  });
}

/** Take the question off the screen, answered no (the page has stopped meanwhile). */
export function dismissAsk() {
  if (open) open.finish(false);
}
