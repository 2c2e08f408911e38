// Live checks on the salesperson's call page: a panel fed by the server's push stream
// (GET <base>/live, Server-Sent Events) with the script checklist, the customer's answers,
// warnings and document prompts; and the question that lists missing items before ending.
// Live results are advisory: the offline inspection stays the judge.

import "./live_i18n.js";
import { askInPage } from "./ask.js";
import { setText, t } from "./i18n.js";
import { el } from "./ui.js";

const RETRY_MS = 3000;
const MARK = { covered: "✓", pending: "·", too_different: "≈" };

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function docName(doc) {
  return t(`live.doc.${doc}`);
}

function warningText(w) {
  const vars = { ...w, who: t(`live.who.${w.participant || "salesperson"}`), t: clock(w.t_s) };
  return t(`live.warn.${w.code}`, vars);
}

function stylesheet() {
  if (document.querySelector('link[href="/static/css/live.css"]')) return;
  document.head.append(el("link", { rel: "stylesheet", href: "/static/css/live.css" }));
}

function renderNodes(list, nodes) {
  list.replaceChildren(
    ...nodes.map((n) => {
      const item = el(
        "li",
        { class: n.status, dataset: { node: n.id } },
        el("span", { class: "mark", "aria-hidden": "true" }, MARK[n.status] || "·"),
        el("span", { class: "title" }, n.title),
        el("span", { class: `badge ${n.status === "covered" ? "pass" : n.status === "too_different" ? "review" : ""}`, i18n: [`live.node.${n.status}`] }),
      );
      if (n.answer) {
        const answer = el("span", { class: `live-answer ${n.answer}`, i18n: [`live.answer.${n.answer}`] });
        if (n.answer_text) answer.title = n.answer_text;
        item.append(answer);
      }
      return item;
    }),
  );
}

function renderDocs(list, docs) {
  list.replaceChildren(
    ...docs.map((d) => {
      const item = el("li", { class: d.status });
      if (d.status === "seen") setText(item, "live.doc.seen", { doc: docName(d.document), name: d.name || "", number: d.id_number || "" });
      else if (d.status === "prompt") setText(item, `live.doc.prompt.${d.document}`);
      else setText(item, "live.doc.waiting", { doc: docName(d.document) });
      return item;
    }),
  );
}

function renderWarnings(list, warnings) {
  const sorted = [...warnings].sort((a, b) => (b.active - a.active) || (b.t_s - a.t_s));
  list.replaceChildren(...sorted.slice(0, 8).map((w) => el("li", { class: w.active ? "active" : "past" }, warningText(w))));
}

/** Mount the live panel under `container`; returns {missing(), state(), close()}. */
export function mountLive({ base, container }) {
  stylesheet();
  const status = el("span", { class: "badge live-status", i18n: ["live.status.waiting"] });
  const notice = el("p", { class: "notice warn", hidden: true });
  const missing = el("p", { class: "live-missing" });
  const nodes = el("ol", { class: "live-list", id: "live-nodes" });
  const docs = el("ul", { class: "live-list live-docs", id: "live-docs" });
  const warnings = el("ul", { class: "live-list live-warnings", id: "live-warnings" });
  const panel = el(
    "section",
    { class: "card live-panel", id: "live-panel", "aria-live": "polite" },
    el("h2", {}, el("span", { i18n: ["live.title"] }), status),
    notice,
    missing,
    el("h3", { i18n: ["live.checklist"] }),
    nodes,
    docs,
    el("h3", { i18n: ["live.warnings"] }),
    warnings,
  );
  container.append(panel);
  let last = null;
  let source = null;
  let timer = null;
  let closed = false;

  function render(state) {
    last = state;
    setText(status, `live.status.${state.status}`);
    status.className = `badge live-status ${state.status === "ok" ? "pass" : state.status === "busy" ? "review" : ""}`;
    notice.hidden = !state.notice;
    if (state.notice) setText(notice, `live.notice.${state.notice}`);
    const n = (state.missing || []).length;
    if (n) setText(missing, "live.missing_count", { n });
    else setText(missing, "live.missing_none");
    renderNodes(nodes, state.nodes || []);
    renderDocs(docs, state.documents || []);
    renderWarnings(warnings, state.warnings || []);
  }

  function connect() {
    if (closed) return;
    source = new EventSource(`${base}/live`);
    source.addEventListener("live", (event) => {
      const state = JSON.parse(event.data);
      render(state);
      if (state.status === "ended") close();
    });
    // 409 before the call starts (or a dropped stream): try again a little later.
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

  document.addEventListener("kesu:lang", () => last && render(last));
  connect();
  return { missing: () => (last && last.status !== "off" ? last.missing || [] : []), state: () => last, close, render };
}

function missingText(m) {
  if (m.why === "answer") return t("live.end.why.answer", { answer: t(`live.answer.${m.answer || "missing"}`) });
  if (m.why === "document") return t("live.end.why.document", { doc: docName(m.document) });
  return t("live.end.why.not_covered");
}

/** Ask before ending with `missing` items (the one question path of ask.js: a modal <dialog>
 * where the browser has showModal, else in the page); resolves true to end anyway. */
export function confirmEnd(missing) {
  const list = el("ul", { class: "live-end-list" }, ...missing.map((m) => el("li", {}, el("strong", {}, m.title), " — ", missingText(m))));
  return askInPage("live.end.intro", {
    title: "live.end.title",
    details: [list],
    yes: "live.end.anyway",
    no: "live.end.back",
    danger: true,
  });
}
