// The QC queue: most severe first, then oldest; filters in the URL so a view can be shared.

import { firstLoad, get, showError } from "./api.js";
import { formatTime, setText, t } from "./i18n.js";
import { badge, codeLabel, since, startReviewerPage } from "./review_common.js";
import { FINDING_CODES } from "./review_i18n.js";
import { $, el, entryLoaded } from "./ui.js";

const FIELDS = ["status", "code", "product", "salesperson", "from", "to"];
const STATUSES = ["queued", "second_pending", "approved", "rejected"];
let last = null;

function query() {
  const form = $("#filters");
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const v = form.elements[name].value.trim();
    if (v && !(name === "status" && v === "open")) params.set(name, v);
  }
  return params;
}

function fillForm(params) {
  const form = $("#filters");
  for (const name of FIELDS) form.elements[name].value = params.get(name) || (name === "status" ? "open" : "");
}

function fillCodes() {
  const select = $("#f-code");
  const current = select.value;
  select.replaceChildren(el("option", { value: "", i18n: ["review.any"] }));
  for (const code of FINDING_CODES) select.append(el("option", { value: code }, codeLabel(code)));
  select.value = current;
}

function chip(label, n, pressed, onclick) {
  return el(
    "button",
    { type: "button", class: "chip", "aria-pressed": pressed ? "true" : "false", onclick },
    label,
    el("span", { class: "n" }, String(n)),
  );
}

function renderCounts(data, params) {
  const status = params.get("status") || "open";
  $("#status-counts").replaceChildren(
    ...STATUSES.map((s) =>
      chip(t(`rstatus.${s}`), data.counts.by_status[s], status === s, () => {
        $("#f-status").value = status === s ? "open" : s;
        load(true);
      }),
    ),
  );
  const code = params.get("code") || "";
  $("#code-counts").replaceChildren(
    ...Object.entries(data.counts.by_code).map(([c, n]) =>
      chip(codeLabel(c), n, code === c, () => {
        $("#f-code").value = code === c ? "" : c;
        load(true);
      }),
    ),
  );
}

function row(s) {
  const severity = s.worst_severity
    ? badge(s.worst_severity, `severity.${s.worst_severity}`)
    : badge("pass", "review.sampled");
  const status = [badge("ended", `rstatus.${s.review_status}`)];
  if (!s.can_act && s.review_status === "second_pending") {
    status.push(el("div", { class: "sub", i18n: ["review.own_first"] }));
  }
  const href = `/review/session/${encodeURIComponent(s.id)}`;
  return el(
    "tr",
    { class: s.can_act || !["queued", "second_pending"].includes(s.review_status) ? "" : "blocked", dataset: { id: s.id } },
    el("td", {}, severity),
    el(
      "td",
      {},
      el("div", {}, s.customer_name),
      el("div", { class: "sub" }, s.customer_id_number),
    ),
    el("td", {}, el("div", {}, s.product_name), el("div", { class: "sub", i18n: [`product.${s.product_type}`] })),
    el(
      "td",
      {},
      el("div", {}, s.salesperson ? s.salesperson.name : "—"),
      el("div", { class: "sub", i18n: ["review.recorded", { time: formatTime(s.ended_at || s.created_at) }] }),
      el("div", { class: "sub" }, t("review.waiting", { h: since(s.waiting_since) })),
    ),
    el("td", {}, el("div", { class: "codes" }, ...s.codes.map((c) => el("span", { class: "code-tag" }, codeLabel(c))))),
    el("td", {}, ...status),
    el(
      "td",
      {},
      el("a", { class: "btn small", href, i18n: [s.can_act ? "review.open_session" : "review.view_session"] }),
    ),
  );
}

function render(data, params) {
  last = [data, params];
  renderCounts(data, params);
  setText($("#total"), "review.total", { n: data.total });
  $("#empty").hidden = data.sessions.length > 0;
  $("#rows").replaceChildren(...data.sessions.map(row));
}

async function fetchQueue(push = false) {
  const params = query();
  if (push) history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
  render(await get(`/api/review/queue?${params}`), params);
}

async function load(push = false) {
  showError($("#page-error"), null);
  try {
    await fetchQueue(push);
    $("#load-retry").hidden = true; // the first load's 重试 is no longer needed
  } catch (err) {
    showError($("#page-error"), err);
  }
}

async function main() {
  await firstLoad(startReviewerPage);
  fillCodes();
  fillForm(new URLSearchParams(location.search));
  // The fields are disabled in the HTML until here: a filter typed before would have been
  // replaced by the URL's.
  for (const name of FIELDS) $("#filters").elements[name].disabled = false;
  $("#filters").addEventListener("submit", (e) => {
    e.preventDefault();
    load(true);
  });
  $("#apply").disabled = false; // disabled in the HTML until this handler is on (docs/browsers.md)
  $("#reset").addEventListener("click", () => setTimeout(() => load(true), 0));
  // Disabled in the HTML too: clicked before this, 清除 emptied the fields, fillForm put the
  // URL's filters back and the list never changed.
  $("#reset").disabled = false;
  document.addEventListener("kesu:lang", () => {
    fillCodes();
    if (last) render(...last);
  });
  await firstLoad(fetchQueue); // the filters' own 筛选 says its errors (load)
}

main().catch((err) => showError(document.getElementById("page-error"), err));
entryLoaded("review.js");
