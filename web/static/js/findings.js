// The salesperson's read-only view of one of their sessions after inspection: what the machine
// found (with the QC reviewer's judgement of each finding), the review's outcome, and the
// re-recording request with what must be recorded again. Data: GET /api/sessions/{id}/findings,
// which answers 404 for a session that is not the user's.

import { firstLoad, get, requireLogin, showError } from "./api.js";
import { addStrings, formatTime, has, initI18n, lang, setText, t } from "./i18n.js";
import { productsLabel } from "./products.js";
import { rerecordStart } from "./rerecord_start.js";
import "./review_i18n.js";
import { $, el, entryLoaded } from "./ui.js";

addStrings("zh-CN", {
  "sf.title": "质检结果",
  "sf.back": "返回双录记录",
  "sf.heading": "{customer} · {product}",
  "sf.facts": "证件号 {id} · 创建于 {created}",
  "sf.ended": "结束于 {time}",
  "sf.findings_title": "质检发现",
  "sf.findings_n": "质检发现（{n}）",
  "sf.readonly": "仅供查看。如对某项有异议，请联系质检人员。",
  "sf.none": "机器质检未发现问题。",
  "sf.pending": "质检尚未完成，请稍后刷新。",
  "sf.state.open": "待质检判定",
  "sf.state.confirmed": "质检已确认",
  "sf.state.dismissed": "质检判为误报",
  "sf.at": "{from}–{to}",
  "sf.at_one": "{from}",
  "sf.node": "环节：{node}",
  "sf.said": "录音：“{text}”",
  "sf.phrase": "用语：{phrase}",
  "sf.expected": "应讲内容：{text}",
  "sf.review": "质检结论",
  "sf.review_status": "审核状态：{status}",
  "sf.decision": "{level}：{decision}（{time}）",
  "sf.reason": "理由：{reason}",
  "sf.rerecord_done": "已开始重录：",
  "sf.open_new": "打开重录的双录",
  "sf.rerecord_of": "这是对另一场双录的重录。",
  "sf.open_original": "查看原双录的质检结果",
  "err.not_found": "找不到该双录，或它不属于您。",
});
addStrings("en", {
  "sf.title": "Inspection result",
  "sf.back": "Back to my recordings",
  "sf.heading": "{customer} · {product}",
  "sf.facts": "ID {id} · created {created}",
  "sf.ended": "ended {time}",
  "sf.findings_title": "Findings",
  "sf.findings_n": "Findings ({n})",
  "sf.readonly": "Read only. If you disagree with a finding, contact QC.",
  "sf.none": "The automatic inspection found nothing.",
  "sf.pending": "The inspection has not finished yet; refresh later.",
  "sf.state.open": "Awaiting QC",
  "sf.state.confirmed": "Confirmed by QC",
  "sf.state.dismissed": "False alarm (QC)",
  "sf.at": "{from}–{to}",
  "sf.at_one": "{from}",
  "sf.node": "Step: {node}",
  "sf.said": "Heard: \u201c{text}\u201d",
  "sf.phrase": "Wording: {phrase}",
  "sf.expected": "Expected: {text}",
  "sf.review": "QC review",
  "sf.review_status": "Review status: {status}",
  "sf.decision": "{level}: {decision} ({time})",
  "sf.reason": "Reason: {reason}",
  "sf.rerecord_done": "Re-recording started:",
  "sf.open_new": "Open the new recording",
  "sf.rerecord_of": "This is a re-recording of another session.",
  "sf.open_original": "See the original's inspection result",
  "err.not_found": "No such recording, or it is not yours.",
});

const sessionId = decodeURIComponent(location.pathname.split("/").slice(-2)[0]);
let data = null;

function clock(s) {
  const v = Math.max(0, s);
  return `${Math.floor(v / 60)}:${String(v % 60).padStart(2, "0")}`;
}

/** Whole seconds that contain [start, end] ("0:03–0:04" for 3.0–3.4 s). */
function span(start, end) {
  const from = Math.floor(start);
  const to = end === null || end === undefined ? from : Math.max(from, Math.ceil(end));
  return to > from ? t("sf.at", { from: clock(from), to: clock(to) }) : t("sf.at_one", { from: clock(from) });
}

function label(prefix, value) {
  return has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : value;
}

function findingsPage(id) {
  return `/sales/session/${encodeURIComponent(id)}/findings`;
}

function renderSummary() {
  const s = data.session;
  const badges = el("div", { class: "badges" }, el("span", { class: `badge ${s.status}`, i18n: [`status.${s.status}`] }));
  if (s.verdict) badges.append(el("span", { class: `badge ${s.verdict}`, i18n: [`verdict.${s.verdict}`] }));
  if (s.review_status && s.review_status !== "none") {
    badges.append(el("span", { class: `badge ${s.review_status}`, i18n: [`rstatus.${s.review_status}`] }));
  }
  const facts = t("sf.facts", { id: s.customer_id_number, created: formatTime(s.created_at) });
  const children = [
    el("div", { class: "sf-head" }, el("h1", { i18n: ["sf.heading", { customer: s.customer_name, product: productsLabel(s) }] }), badges),
    el("p", { class: "sf-facts" }, s.ended_at ? `${facts} · ${t("sf.ended", { time: formatTime(s.ended_at) })}` : facts),
  ];
  if (s.rerecord_of) {
    children.push(
      el("p", {}, t("sf.rerecord_of"), " ", el("a", { href: findingsPage(s.rerecord_of), i18n: ["sf.open_original"] })),
    );
  }
  $("#summary").replaceChildren(...children);
}

function requestBlock(r) {
  const en = lang() === "en";
  const block = el(
    "div",
    { class: "req", dataset: { requestId: String(r.id) } },
    el("p", { class: "notice warn", i18n: ["rr.intro"] }),
    r.reason ? el("p", { i18n: ["rr.reason", { reason: r.reason }] }) : null,
    el("p", { style: "margin:0", i18n: ["rr.items"] }),
    el("ul", { class: "rerecord-items" }, ...r.items.map((i) => el("li", {}, en ? i.text_en : i.text_zh))),
  );
  if (r.status === "open") {
    const [error, button] = rerecordStart(r.id);
    block.append(error, button);
  } else if (r.new_session_id) {
    block.append(
      el("p", {}, t("sf.rerecord_done"), " ", el("a", { href: `/sales/session/${encodeURIComponent(r.new_session_id)}`, i18n: ["sf.open_new"] })),
    );
  }
  return block;
}

function renderReview() {
  const card = $("#rerecord");
  card.hidden = data.rerecord_requests.length === 0;
  card.replaceChildren(el("h2", { i18n: ["rr.title"] }), ...data.rerecord_requests.map(requestBlock));
  const review = $("#review");
  review.hidden = data.decisions.length === 0;
  review.replaceChildren(
    el("h2", { i18n: ["sf.review"] }),
    el("ul", {}, ...data.decisions.map((d) =>
      el(
        "li",
        { class: "sf-decision" },
        t("sf.decision", { level: label("level", d.level), decision: label("decision", d.decision), time: formatTime(d.created_at) }),
        d.reason ? el("div", { class: "sf-note" }, t("sf.reason", { reason: d.reason })) : null,
      ),
    )),
  );
}

function quotes(f) {
  const ev = f.evidence || {};
  const out = [];
  if (ev.phrase) out.push(t("sf.phrase", { phrase: ev.phrase }));
  for (const seg of Array.isArray(ev.transcript) ? ev.transcript.slice(0, 3) : []) {
    if (seg && seg.text) out.push(t("sf.said", { text: seg.text }));
  }
  if (ev.expected_text) out.push(t("sf.expected", { text: ev.expected_text }));
  return out.map((q) => el("p", { class: "sf-quote" }, q));
}

function findingItem(f) {
  const en = lang() === "en";
  const where = [];
  if (f.start_s !== null && f.start_s !== undefined) where.push(span(f.start_s, f.end_s));
  if (f.node_title || f.node) where.push(t("sf.node", { node: f.node_title || f.node }));
  if (f.participant) where.push(label("participant", f.participant));
  return el(
    "li",
    { class: "sf-finding", dataset: { code: f.code, state: f.review_state, findingId: String(f.id), node: f.node || "" } },
    el(
      "div",
      { class: "sf-line" },
      el("span", { class: `badge ${f.severity}`, i18n: [`severity.${f.severity}`] }),
      el("span", { class: "sf-code" }, label("code", f.code)),
      el("span", { class: `badge ${f.review_state}`, i18n: [`sf.state.${f.review_state}`] }),
    ),
    where.length ? el("div", { class: "sf-where" }, where.join(" · ")) : null,
    el("p", { class: "sf-message" }, en && f.message_en ? f.message_en : f.message),
    ...quotes(f),
  );
}

function renderFindings() {
  const list = data.findings;
  setText($("#findings-title"), "sf.findings_n", { n: list.length });
  $("#findings").replaceChildren(...list.map(findingItem));
  const empty = $("#findings-empty");
  empty.hidden = list.length > 0;
  const done = data.session.inspection_status === "done";
  if (!list.length) setText(empty, done ? "sf.none" : "sf.pending");
}

function render() {
  if (!data) return;
  renderSummary();
  renderReview();
  renderFindings();
}

async function main() {
  initI18n();
  const loading = $("#summary").firstElementChild; // 加载中…, again while 重试 runs
  data = await firstLoad(async () => {
    loading.hidden = false;
    try {
      const user = await requireLogin();
      setText($("#who"), "sales.greeting", { name: user.display_name, institution: user.institution || "—" });
      return await get(`/api/sessions/${encodeURIComponent(sessionId)}/findings`);
    } finally {
      loading.hidden = true;
    }
  });
  document.addEventListener("kesu:lang", render);
  render();
}

main().catch((err) => {
  $("#summary").replaceChildren();
  showError(document.getElementById("page-error"), err);
});
entryLoaded("findings.js");
