// Small DOM helpers shared by the pages (no framework).

import { setText } from "./i18n.js";

// The pages are plain ES2019 modules (no build step) so that the phones customers join from
// can run them: Safari 13+ (iOS 13+, WeChat's in-app browser on iOS), Chromium 80+ (Android
// Chrome, WeChat's XWeb). tests/test_js_compat.py checks the syntax level and the APIs below.
// Element.replaceChildren came with Safari 14 / Chromium 86: a small stand-in for older ones.
if (typeof Element !== "undefined" && !Element.prototype.replaceChildren) {
  Element.prototype.replaceChildren = function replaceChildren(...nodes) {
    while (this.lastChild) this.removeChild(this.lastChild);
    this.append(...nodes);
  };
}

/** Record on <html data-js> that the entry module `name` has run: boot.js says the page did
 * not load when a module script's name is missing there at DOMContentLoaded. */
export function entryLoaded(name) {
  const root = document.documentElement;
  root.dataset.js = `${root.dataset.js || ""} ${name}`.trim();
}

/** value unless it is null or undefined, else fallback (what `??` does, in ES2019). */
export function orElse(value, fallback) {
  return value === null || value === undefined ? fallback : value;
}

/** document.querySelector shorthand; throws when a required element is missing. */
export function $(selector, root = document) {
  const el = root.querySelector(selector);
  if (!el) throw new Error(`missing element ${selector}`);
  return el;
}

/** Create an element: el("button", {class: "btn", onclick: fn}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "i18n") setText(node, value[0], value[1] || {});
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Show el with the text of key (in the page's language, following the switch). */
export function notice(el, key, vars = {}) {
  el.hidden = false;
  setText(el, key, vars);
}

/** Show exactly one of the elements (by id) among a group, hide the others. */
export function showOnly(ids, visible) {
  for (const id of ids) document.getElementById(id).hidden = id !== visible;
}

/** showOnly, then, when the focus was lost with the view it was in (a pressed button hidden:
 * it falls to the page), give it to the new view's heading, so that a screen reader reads
 * where the customer is now and Tab goes on from there, not from the top of the page. */
export function showView(ids, visible) {
  const before = document.activeElement;
  showOnly(ids, visible);
  const lost = !before || before === document.body || before.closest("[hidden]");
  const view = document.getElementById(visible);
  if (!lost || !view) return;
  const target = view.querySelector("h1, h2") || view;
  if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
  target.focus();
}

/** Parse an SVG document from the server and return a detached, script-free <svg> element. */
export function svgElement(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName.toLowerCase() !== "svg") return null;
  for (const bad of svg.querySelectorAll("script, foreignObject")) bad.remove();
  return document.importNode(svg, true);
}

/** Copy text to the clipboard; falls back to selecting an input for older browsers. */
export async function copyText(text, input = null) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.select();
      try {
        return document.execCommand("copy");
      } catch {
        return false;
      }
    }
    return false;
  }
}

/** Poll fn every intervalMs until stop() is called; errors are passed to onError. */
export function poll(fn, intervalMs, onError = () => {}) {
  let timer = null;
  let stopped = false;
  async function tick() {
    if (stopped) return;
    try {
      await fn();
    } catch (err) {
      onError(err);
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  }
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
