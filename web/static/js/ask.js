// A yes/no question asked inside the page (离开通话? 作废客户链接? 结束录制? and ending with
// missing live-check items, live.js), never with window.confirm. An Android app's WebView shows
// no JavaScript dialog unless the app handles it (WebChromeClient.onJsConfirm): confirm() then
// answers false at once without showing anything, and some apps take it away, so the button did
// nothing at all; a page cannot tell such a confirm from a real one, so there is no browser box
// to fall back on. Every question goes through askInPage: the box is put in a <dialog> opened
// with showModal() (the page behind is inert, the Android back gesture answers no) where the
// browser has it, else in a plain element over the page (showModal needs Safari 15.4 and iOS
// 14.3 is promised; before, the missing-items <dialog> threw there and 结束录制 did nothing).
// The same buttons, focus and answers either way. Its strings follow the language switch.

import { addStrings, setText } from "./i18n.js";
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

/** Whether this browser opens a <dialog> as a modal (Safari 15.4, Firefox 98, Chromium 37). */
function hasModalDialog() {
  return typeof HTMLDialogElement !== "undefined" && typeof HTMLDialogElement.prototype.showModal === "function";
}

/** Put `box` on screen over the page; returns the element holding it (#ask), whose own area
 * (not the box's) is the backdrop. */
function mount(box, label) {
  if (hasModalDialog()) {
    const dialog = el("dialog", { class: "ask", id: "ask", ...label }, box);
    document.body.append(dialog);
    try {
      dialog.showModal();
      return dialog;
    } catch {
      dialog.remove(); // refused (e.g. another modal of the browser's own): ask in the page
    }
  }
  const backdrop = el("div", { class: "ask", id: "ask" }, box);
  for (const [name, value] of Object.entries({ ...label, "aria-modal": "true" })) box.setAttribute(name, value);
  document.body.append(backdrop);
  return backdrop;
}

/**
 * Ask `question` (an i18n key) with two buttons, `no` (focused first: a slip of the finger
 * must not leave the call) and `yes`; resolves true for yes. Escape (and Android's back, where
 * the <dialog> is modal) and a tap beside the box answer no. A second question replaces the
 * first, which is answered no. `title` (an i18n key) heads the box and `details` (elements)
 * follow the question.
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
    { class: "ask-box" },
    ...(title ? [el("h2", { id: "ask-title", i18n: [title] })] : []),
    text,
    ...details,
    el("div", { class: "btn-row" }, noButton, yesButton),
  );
  const label = { role: "alertdialog", "aria-labelledby": title ? "ask-title ask-text" : "ask-text" };
  return new Promise((resolve) => {
    const frame = mount(box, label);
    const finish = (answer) => {
      if (open !== current) return;
      open = null;
      if (frame.open) frame.close();
      frame.remove();
      if (before && before.isConnected && typeof before.focus === "function") before.focus();
      resolve(answer);
    };
    const current = { finish };
    open = current;
    noButton.addEventListener("click", () => finish(false));
    yesButton.addEventListener("click", () => finish(true));
    frame.addEventListener("click", (event) => event.target === frame && finish(false));
    // A modal <dialog>'s own Escape and Android back: answered no, the box taken away by finish.
    frame.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    frame.addEventListener("keydown", (event) => {
      if (event.key === "Escape") finish(false);
      else if (event.key === "Tab") {
        // Keep Tab between the two buttons: the page behind is not for now.
        event.preventDefault();
        (document.activeElement === noButton ? yesButton : noButton).focus();
      }
    });
    noButton.focus();
  });
}

/** Take the question off the screen, answered no (the page has stopped meanwhile). */
export function dismissAsk() {
  if (open) open.finish(false);
}
