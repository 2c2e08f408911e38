// Salesperson's page: open re-recording requests after a QC rejection, listing only what must
// be recorded again, with a button that creates the linked new session. Self-contained: the
// page includes it with one <script type="module"> tag; it inserts its own card.

import { ApiError, get, requireLogin } from "./api.js";
import { formatTime, lang } from "./i18n.js";
import "./review_i18n.js";
import { rerecordStart } from "./rerecord_start.js";
import { el, entryLoaded } from "./ui.js";

let card = null;
let requests = [];

function requestBlock(r) {
  const [error, button] = rerecordStart(r.id);
  const en = lang() === "en";
  return el(
    "div",
    { class: "req", dataset: { requestId: String(r.id), sessionId: r.session.id }, style: "border-top:1px solid #c9ced6;padding-top:0.6rem;margin-top:0.6rem" },
    el("p", { style: "font-weight:700;margin:0" , i18n: ["rr.original", { customer: r.session.customer_name, product: r.session.product_name, time: formatTime(r.session.created_at) }] }),
    el("p", { class: "sub", style: "margin:0.2rem 0", i18n: ["rr.reason", { reason: r.reason }] }),
    el("p", { style: "margin:0.3rem 0 0", i18n: ["rr.items"] }),
    el("ul", { class: "rerecord-items" }, ...r.items.map((i) => el("li", {}, en ? i.text_en : i.text_zh))),
    error,
    button,
  );
}

function render() {
  if (!requests.length) {
    if (card) card.hidden = true;
    return;
  }
  if (!card) {
    card = el("section", { class: "card rerecord-card", id: "rerecord-requests", "aria-live": "polite", style: "border-left:8px solid #b3261e" });
    const main = document.querySelector("main");
    const anchor = document.getElementById("page-error");
    if (anchor && anchor.parentElement === main) anchor.after(card);
    else main.prepend(card);
  }
  card.hidden = false;
  card.replaceChildren(
    el("h2", { i18n: ["rr.title"] }),
    el("p", { class: "notice warn", i18n: ["rr.intro"] }),
    ...requests.map(requestBlock),
  );
}

async function main() {
  const user = await requireLogin();
  if (user.role !== "salesperson") return;
  try {
    requests = (await get("/api/rerecord-requests")).requests;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return; // the rest of the page works without this card
  }
  render();
  document.addEventListener("kesu:lang", render);
}

main().catch(() => {});
entryLoaded("rerecord.js");
