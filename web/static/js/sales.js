// Salesperson's home: list of my sessions, the create form (validated here first), and the
// join link with its QR code once a session exists.

import { ApiError, firstLoad, get, post, requireLogin, showError } from "./api.js";
import { formatTime, initI18n, setText, t } from "./i18n.js";
import { idNumberProblem } from "./idcheck.js";
import { productsLabel, setupProducts } from "./products.js";
import { $, copyText, el, svgElement, entryLoaded } from "./ui.js";

let templates = [];
// Settles once /api/templates has answered: a form sent before that (a quick click on a slow
// link) waits for it instead of failing on an empty template list.
let templatesLoaded = Promise.resolve();
let products = null; // the rider rows of a combined sale (products.js)

function fieldLabel(name) {
  return t(`field.${name}`).replace(/（.*）|\s*\(.*\)/, "");
}

function setFieldError(form, name, key, vars = {}) {
  const input = form.elements[name];
  input.setAttribute("aria-invalid", "true");
  let hint = input.parentElement.querySelector(".hint-error");
  if (!hint) {
    hint = el("div", { class: "hint-error", id: `${name}-error` });
    input.parentElement.append(hint);
    input.setAttribute("aria-describedby", hint.id);
  }
  setText(hint, key, vars);
}

function clearFieldErrors(form) {
  for (const hint of form.querySelectorAll(".hint-error")) hint.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

function intOrNull(value) {
  return value.trim() === "" ? null : Number(value.trim());
}

/** Validate the form; returns [body, errors] where errors is [[field, key, vars], ...]. */
function collect(form) {
  const v = (name) => form.elements[name].value.trim();
  const errors = [];
  for (const name of ["customer_name", "customer_id_number", "product_name", "premium", "cooling_off_days"]) {
    if (!v(name)) errors.push([name, "validation.required", { field: fieldLabel(name) }]);
  }
  const idProblem = v("customer_id_number") && idNumberProblem(v("customer_id_number"));
  if (idProblem) {
    errors.push(["customer_id_number", "validation.id_number", { reason: t(`validation.id.${idProblem}`) }]);
  }
  const premium = Number(v("premium"));
  if (v("premium") && !(Number.isFinite(premium) && premium > 0)) {
    errors.push(["premium", "validation.premium", {}]);
  }
  const ranges = { payment_years: [1, 100], insurance_years: [1, 120], cooling_off_days: [1, 365] };
  for (const [name, [min, max]] of Object.entries(ranges)) {
    const n = intOrNull(v(name));
    if (n !== null && !(Number.isInteger(n) && n >= min && n <= max)) {
      errors.push([name, "validation.integer", { field: fieldLabel(name), min, max }]);
    }
  }
  const tpl = templates.find((x) => x.id === v("template_id"));
  if (!tpl || !tpl.product_types.includes(v("product_type"))) {
    errors.push(["template_id", "validation.template", {}]);
  }
  const body = {
    customer_name: v("customer_name"),
    customer_id_number: v("customer_id_number").replace(/\s+/g, "").toUpperCase(),
    product_name: v("product_name"),
    product_type: v("product_type"),
    template_id: v("template_id"),
    mode: v("mode") || "two_party",
    premium,
    payment_method: v("payment_method"),
    payment_years: intOrNull(v("payment_years")),
    insurance_years: intOrNull(v("insurance_years")),
    cooling_off_days: intOrNull(v("cooling_off_days")),
  };
  products.collect(body, errors, { intOrNull, fieldLabel });
  return [body, errors];
}

function fillTemplates() {
  const form = $("#create-form");
  const type = form.product_type.value;
  const select = form.template_id;
  const previous = select.value;
  select.replaceChildren();
  for (const tpl of templates.filter((x) => x.product_types.includes(type))) {
    select.append(el("option", { value: tpl.id }, tpl.title));
  }
  if ([...select.options].some((o) => o.value === previous)) select.value = previous;
}

async function create(event) {
  event.preventDefault();
  const button = $("#create-submit");
  // Taken at once, before any await: a double click while the templates were still on their
  // way ran this twice past the wait below and created two sessions.
  if (button.disabled) return;
  button.disabled = true;
  try {
    await templatesLoaded.catch(() => {});
    await send();
  } finally {
    button.disabled = false;
    setText(button, "sales.create");
  }
}

async function send() {
  const form = $("#create-form");
  const errorEl = $("#create-error");
  const button = $("#create-submit");
  clearFieldErrors(form);
  showError(errorEl, null);
  const [body, errors] = collect(form);
  if (errors.length) {
    for (const [name, key, vars] of errors) setFieldError(form, name, key, vars);
    errorEl.hidden = false;
    setText(errorEl, "sales.form_errors");
    form.elements[errors[0][0]].focus();
    return;
  }
  setText(button, "sales.creating");
  try {
    const { session } = await post("/api/sessions", body);
    await showLink(session);
    form.reset();
    products.reset();
    fillTemplates();
    await loadSessions();
  } catch (err) {
    showError(errorEl, err);
    let field = err instanceof ApiError && err.details && err.details.field;
    if (field && field.startsWith("products[0].")) field = field.slice("products[0].".length); // the main product
    if (field && form.elements[field]) {
      form.elements[field].setAttribute("aria-invalid", "true");
      form.elements[field].focus();
    }
  }
}

async function showLink(session) {
  const link = await post(`/api/sessions/${session.id}/link`);
  const panel = $("#link-panel");
  setText($("#link-title"), "sales.created", { customer: session.customer_name, product: productsLabel(session) });
  $("#join-url").value = link.url;
  setText($("#link-expires"), "sales.expires", { time: formatTime(link.expires_at) });
  const qr = $("#qr");
  qr.replaceChildren();
  const svg = svgElement(link.qr_svg);
  if (svg) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", link.url);
    qr.append(svg);
  }
  $("#enter-call").href = `/sales/session/${encodeURIComponent(session.id)}`;
  $("#copy-status").hidden = true;
  panel.hidden = false;
  // No glide for those who asked their system for less motion (Chromium does not apply that
  // to a smooth scroll by itself).
  const calm = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  panel.scrollIntoView({ behavior: calm ? "auto" : "smooth", block: "start" });
}

async function copyLink() {
  const ok = await copyText($("#join-url").value, $("#join-url"));
  const status = $("#copy-status");
  status.hidden = false;
  status.className = ok ? "notice ok" : "notice warn";
  setText(status, ok ? "sales.copied" : "sales.copy_failed");
}

function resultBadge(s) {
  // Nothing to inspect before the recording has ended.
  if (!["ended", "interrupted"].includes(s.status)) return null;
  // An interrupted session is inspected once it is ended (by hand, or by the server when
  // nobody rejoins within the window): until then "pending" would be untrue.
  if (s.status === "interrupted" && s.inspection_status === "pending") return null;
  // A reviewer's decision outranks the machine's verdict.
  if (["approved", "rejected", "second_pending"].includes(s.review_status)) {
    return el("span", { class: `badge ${s.review_status}`, i18n: [`review.${s.review_status}`] });
  }
  if (s.verdict) return el("span", { class: `badge ${s.verdict}`, i18n: [`verdict.${s.verdict}`] });
  if (s.inspection_status) {
    return el("span", { class: "badge", i18n: [`inspection.${s.inspection_status}`] });
  }
  return null;
}

function sessionItem(s) {
  const live = ["created", "live", "interrupted"].includes(s.status);
  const actions = el("div", { class: "actions" });
  if (live) {
    actions.append(
      el("a", { class: "btn small", href: `/sales/session/${encodeURIComponent(s.id)}`, i18n: ["sales.enter"] }),
      el("button", {
        type: "button",
        class: "btn secondary small",
        i18n: ["sales.get_link"],
        onclick: () => showLink(s).catch((err) => showError($("#page-error"), err)),
      }),
    );
  }
  if (s.inspection_status === "done" || s.finding_count) {
    // Read-only findings of this session, with the review's outcome and any re-recording request.
    actions.append(
      el("a", {
        class: "btn secondary small view-findings",
        href: `/sales/session/${encodeURIComponent(s.id)}/findings`,
        i18n: [s.finding_count ? "sales.view_findings" : "sales.view_result"],
      }),
    );
  }
  const findings = s.finding_count ? el("span", { class: "badge fail", i18n: ["sales.findings", { n: s.finding_count }] }) : null;
  return el(
    "li",
    { class: "session-item", dataset: { sessionId: s.id, status: s.status } },
    el("div", { class: "who" }, `${s.customer_name} · ${productsLabel(s)}`),
    el("div", { class: "meta" }, `${t(`product.${s.product_type}`)} · ${formatTime(s.created_at)}`),
    el(
      "div",
      { class: "badges" },
      el("span", { class: `badge ${s.status}`, i18n: [`status.${s.status}`] }),
      resultBadge(s),
      findings,
    ),
    actions,
  );
}

async function loadSessions() {
  const { sessions } = await get("/api/sessions");
  $("#sessions").replaceChildren(...sessions.map(sessionItem));
  $("#sessions-empty").hidden = sessions.length > 0;
}

async function loadTemplates() {
  const answer = await get("/api/templates");
  templates = answer.templates;
  fillTemplates();
  products.refresh();
}

async function main() {
  initI18n();
  const form = $("#create-form");
  products = setupProducts(form, () => templates);
  form.addEventListener("submit", create);
  form.product_type.addEventListener("change", fillTemplates);
  // A field's error goes away as soon as it is edited (not on blur: moving the layout under a
  // pressed button would swallow the click).
  form.addEventListener("input", (e) => {
    const hint = e.target.parentElement && e.target.parentElement.querySelector(".hint-error");
    if (hint) hint.remove();
    e.target.removeAttribute("aria-invalid");
  });
  $("#copy-link").addEventListener("click", copyLink);
  $("#close-link").addEventListener("click", () => ($("#link-panel").hidden = true));
  $("#refresh").addEventListener("click", () => loadSessions().catch((err) => showError($("#page-error"), err)));
  $("#logout").addEventListener("click", async () => {
    await post("/api/logout").catch(() => {});
    location.assign("/login");
  });
  // Language switch: rebuild rows whose text mixes several strings.
  document.addEventListener("kesu:lang", () => loadSessions().catch(() => {}));
  // Login, templates and list: 重试 on the page when one of them fails (firstLoad).
  let templatesReady = false;
  await firstLoad(async () => {
    const user = await requireLogin();
    setText($("#who"), "sales.greeting", { name: user.display_name, institution: user.institution || "—" });
    // Disabled in the HTML until now: sent before this handler, the browser posted the form
    // itself and showed the server's raw refusal (a slow /api/me under load).
    $("#create-submit").disabled = false;
    if (!templatesReady) {
      templatesLoaded = loadTemplates();
      await templatesLoaded;
      templatesReady = true;
    }
    await loadSessions();
  });
}

main().catch((err) => showError(document.getElementById("page-error"), err));
entryLoaded("sales.js");
