// The customer's own live prompts (show your ID card, answer clearly, stay in the picture),
// pushed by the server (GET <base>/live, Server-Sent Events) while the call runs.

import "./live_i18n.js";
import { setText } from "./i18n.js";
import { el } from "./ui.js";

const RETRY_MS = 3000;

/** Show prompts in a box under `container`; returns {close()}. */
export function mountCustomerPrompts({ base, container }) {
  if (!document.querySelector('link[href="/static/css/live.css"]')) {
    document.head.append(el("link", { rel: "stylesheet", href: "/static/css/live.css" }));
  }
  const box = el("div", { class: "notice warn live-prompts", id: "live-prompts", role: "status", hidden: true });
  container.append(box);
  let source = null;
  let timer = null;
  let closed = false;
  let prompts = [];

  function render() {
    box.hidden = prompts.length === 0;
    box.replaceChildren(...prompts.map((p) => setText(el("div"), `live.prompt.${p}`)));
  }

  function connect() {
    if (closed) return;
    source = new EventSource(`${base}/live`);
    source.addEventListener("live", (event) => {
      const state = JSON.parse(event.data);
      prompts = state.status === "ended" || state.status === "off" ? [] : state.prompts || [];
      render();
      if (state.status === "ended") close();
    });
    source.onerror = () => {
      source.close();
      if (!closed) timer = setTimeout(connect, RETRY_MS);
    };
  }

  function close() {
    closed = true;
    clearTimeout(timer);
    if (source) source.close();
  }

  document.addEventListener("kesu:lang", render);
  connect();
  return { close };
}
