// One session under review: synced videos, timeline, transcript that follows playback,
// findings with evidence and confirm/dismiss, and the decision (一审 / 二审).

import { firstLoad, get, post, showError } from "./api.js";
import { formatTime, lang, setText, t } from "./i18n.js";
import { badge, codeLabel, startReviewerPage } from "./review_common.js";
import { clock, findingMessage } from "./review_i18n.js";
import { productsLabel } from "./products.js";
import { SyncPlayer } from "./review_player.js";
import { buildTimeline } from "./review_timeline.js";
import { $, el, orElse, entryLoaded } from "./ui.js";

const sessionId = decodeURIComponent(location.pathname.split("/").pop());
let data = null;
let player = null;
let timeline = null;
let mode = "tracks";
let currentLine = -1;
let activeFinding = null;

// ---------------------------------------------------------------------------------------------
// Header

function kv(key, value) {
  return el("span", { class: "kv" }, el("b", { i18n: [key] }), value);
}

function renderHead() {
  const s = data.session;
  const p = data.permissions;
  $("#head").replaceChildren(
    el("h1", { style: "margin:0 1rem 0 0;font-size:1.3rem" }, `${s.customer_name} · ${productsLabel(s)}`),
    kv("rs.id_number", s.customer_id_number),
    kv("rs.salesperson", data.salesperson ? data.salesperson.name : "—"),
    kv("rs.created", formatTime(s.created_at)),
    kv("rs.duration", clock(data.duration_s)),
    badge("ended", `rstatus.${s.review_status}`),
    ...(["queued", "second_pending"].includes(s.review_status) ? [badge("review", `level.${p.level}`)] : []),
  );
}

// ---------------------------------------------------------------------------------------------
// Player, timeline, transcript

function sourcesFor(which) {
  if (which === "review" && data.media.review) {
    return [{ key: "review", labelKey: "rs.mode_review", segments: [{ url: data.media.review.url, start_s: 0, end_s: data.duration_s + 1 }] }];
  }
  // The system track (recorded voice playback) gets its own pane when the session has one.
  const roles = ["salesperson", "customer", ...((data.media.tracks.system || []).length ? ["system"] : [])];
  return roles.map((who) => ({
    key: who,
    labelKey: `participant.${who}`,
    segments: (data.media.tracks[who] || []).map((s) => ({ url: s.url, start_s: orElse(s.start_s, 0), end_s: orElse(s.end_s, data.duration_s) })),
  }));
}

function setMode(which) {
  mode = which;
  for (const b of document.querySelectorAll("#mode button")) b.setAttribute("aria-pressed", String(b.dataset.mode === which));
  player.setSources(sourcesFor(which));
}

function renderTranscript() {
  const lines = data.transcript;
  $("#transcript-empty").hidden = lines.length > 0;
  const titles = Object.fromEntries(data.script.map((n) => [n.id, n.title]));
  $("#transcript").replaceChildren(
    ...lines.map((l, i) =>
      el(
        "li",
        { dataset: { i: String(i) }, onclick: () => player.seek(l.start_s) },
        el("span", { class: "t" }, clock(l.start_s)),
        el("span", { class: `who ${l.participant}`, i18n: [`participant.${l.participant}`] }),
        el("span", {}, l.text, l.node ? el("span", { class: "node" }, titles[l.node] || l.node) : null),
      ),
    ),
  );
  currentLine = -1;
}

function followTranscript(now) {
  const lines = data.transcript;
  let idx = -1;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].start_s <= now + 0.05) idx = i;
    else break;
  }
  if (idx >= 0 && now > lines[idx].end_s + 2) idx = -1; // silence: nothing is "current"
  if (idx === currentLine) return;
  currentLine = idx;
  const list = $("#transcript");
  for (const li of list.querySelectorAll("li.current")) li.classList.remove("current");
  if (idx < 0) return;
  const li = list.children[idx];
  li.classList.add("current");
  list.scrollTo({ top: li.offsetTop - list.clientHeight / 3, behavior: "auto" });
}

function onTime(now, playing) {
  $("#time").textContent = `${clock(now)} / ${clock(data.duration_s)}`;
  setText($("#play"), playing ? "rs.pause" : "rs.play");
  timeline.setTime(now);
  followTranscript(now);
}

function focusFinding(f, seek = true) {
  activeFinding = f.id;
  if (seek && f.start_s !== null && f.start_s !== undefined) player.seek(f.start_s);
  timeline.mark(f.id);
  for (const card of document.querySelectorAll(".finding")) card.classList.toggle("active", card.dataset.findingId === String(f.id));
  const card = document.querySelector(`.finding[data-finding-id="${f.id}"]`);
  if (card) card.scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------------------------------------
// Findings

function evidenceBlock(f) {
  const ev = f.evidence || {};
  const parts = [];
  if (f.thumbnail_url) {
    parts.push(el("img", { src: f.thumbnail_url, alt: t("rs.thumbnail"), loading: "lazy" }));
  }
  const lines = [...(ev.question ? [ev.question] : []), ...(ev.transcript || [])].filter((l) => l && l.text);
  for (const l of lines) {
    parts.push(
      el("blockquote", {}, el("span", { class: "t" }, `${clock(l.start_s)} `), el("b", { i18n: [`participant.${l.participant}`] }), `：${l.text}`),
    );
  }
  const dl = el("dl");
  const add = (key, value) => dl.append(el("dt", { i18n: [key] }), el("dd", {}, value));
  if (ev.expected_text) add("rs.expected", ev.expected_text);
  if (ev.rule) add("rs.rule", ev.rule);
  const fmt = (obj) => Object.entries(obj).map(([k, v]) => `${k} = ${typeof v === "number" ? Math.round(v * 1000) / 1000 : v}`).join("，");
  if (ev.scores && Object.keys(ev.scores).length) add("rs.scores", fmt(ev.scores));
  if (ev.threshold && Object.keys(ev.threshold).length) add("rs.threshold", fmt(ev.threshold));
  const skip = new Set(["frame", "frame_t_s", "transcript", "question", "expected_text", "rule", "scores", "threshold"]);
  for (const [k, v] of Object.entries(ev)) {
    if (skip.has(k) || v === null || typeof v === "object") continue;
    dl.append(el("dt", {}, k), el("dd", {}, String(v)));
  }
  if (dl.children.length) parts.push(dl);
  return parts.length ? el("div", { class: "evidence" }, ...parts) : null;
}

function findingCard(f) {
  const can = data.permissions.can_act;
  const comment = el("textarea", { maxlength: "2000", "aria-label": t("rs.comment"), placeholder: t("rs.comment_ph") });
  comment.value = f.review_comment || "";
  const error = el("div", { class: "alert", role: "alert", hidden: true });
  const judge = async (state) => {
    showError(error, null);
    try {
      const out = await post(`/api/review/findings/${f.id}`, { state, comment: comment.value });
      Object.assign(f, out.finding);
      renderFindings();
      renderDecision();
      focusFinding(f, false);
    } catch (err) {
      showError(error, err);
    }
  };
  const when = f.start_s !== null && f.start_s !== undefined;
  const card = el(
    "li",
    { class: `finding ${f.review_state}`, dataset: { findingId: String(f.id), code: f.code } },
    el(
      "h3",
      {},
      badge(f.severity, `severity.${f.severity}`),
      el("span", {}, codeLabel(f.code)), // an element, so that it gets the row's spacing (review.css)
      f.participant ? el("span", { class: "sub", i18n: [`participant.${f.participant}`] }) : null,
      el("span", { class: `state ${f.review_state}`, i18n: [`fstate.${f.review_state}`] }),
    ),
    el("p", { class: "msg" }, findingMessage(f, lang())),
    when
      ? el("button", { type: "button", class: "btn small secondary seek", onclick: () => focusFinding(f) }, t("rs.seek", { t: clock(f.start_s) }))
      : el("p", { class: "sub", i18n: ["rs.no_time"] }),
    evidenceBlock(f),
    f.reviewed_by
      ? el("p", { class: "sub" }, t("rs.judged_by", { name: f.reviewed_by.name, time: formatTime(f.reviewed_at) }), f.review_comment ? `：${f.review_comment}` : "")
      : null,
  );
  if (can) {
    card.append(
      comment,
      el(
        "div",
        { class: "judge" },
        el("button", { type: "button", class: "btn small danger confirm", onclick: () => judge("confirmed"), i18n: ["rs.confirm"] }),
        el("button", { type: "button", class: "btn small secondary dismiss", onclick: () => judge("dismissed"), i18n: ["rs.dismiss"] }),
        f.review_state !== "open"
          ? el("button", { type: "button", class: "btn small secondary reopen", onclick: () => judge("open"), i18n: ["rs.reopen"] })
          : null,
      ),
      error,
    );
  }
  card.addEventListener("click", (e) => {
    if (e.target.closest("button, textarea, img")) return;
    focusFinding(f, false);
  });
  return card;
}

function renderFindings() {
  setText($("#findings-title"), "rs.findings", { n: data.findings.length });
  $("#no-findings").hidden = data.findings.length > 0;
  $("#findings").replaceChildren(...data.findings.map(findingCard));
  if (activeFinding !== null) {
    const card = document.querySelector(`.finding[data-finding-id="${activeFinding}"]`);
    if (card) card.classList.add("active");
  }
}

// ---------------------------------------------------------------------------------------------
// Decision

function renderDecision() {
  const p = data.permissions;
  const s = data.session;
  if (p.blocked_reason === "not_under_review") setText($("#decision-title"), "rs.decision_closed");
  else setText($("#decision-title"), "rs.decision", { level: t(`level.${p.level}`) });
  const blocked = $("#blocked");
  blocked.hidden = p.can_act;
  if (!p.can_act) setText(blocked, `rs.blocked.${p.blocked_reason}`);
  $("#decision-form").hidden = !p.can_act;
  const open = data.findings.filter((f) => f.review_state === "open").length;
  $("#open-left").hidden = open === 0;
  if (open) setText($("#open-left"), "rs.open_left", { n: open });
  $("#history").replaceChildren(
    ...data.decisions.map((d) =>
      el(
        "li",
        {},
        t("rs.history_item", {
          level: t(`level.${d.level}`),
          reviewer: d.reviewer ? d.reviewer.name : "—",
          decision: t(`decision.${d.decision}`),
          time: formatTime(d.created_at),
        }),
        d.reason ? `：${d.reason}` : "",
      ),
    ),
  );
  const req = data.rerecord_requests[data.rerecord_requests.length - 1];
  $("#rerecord").hidden = !req;
  if (req) {
    const en = lang() === "en";
    $("#rerecord-items").replaceChildren(...req.items.map((i) => el("li", {}, en ? i.text_en : i.text_zh)));
  }
  const exp = $("#export");
  exp.hidden = !p.can_export;
  exp.href = `/api/review/sessions/${encodeURIComponent(s.id)}/export`;
}

async function submitDecision(e) {
  e.preventDefault();
  const form = $("#decision-form");
  const decision = form.elements.decision.value;
  showError($("#decision-error"), null);
  if (!decision) return;
  $("#submit").disabled = true;
  let out;
  try {
    out = await post(`/api/review/sessions/${encodeURIComponent(sessionId)}/decision`, {
      decision,
      reason: form.elements.reason.value,
    });
  } catch (err) {
    showError($("#decision-error"), err);
    $("#submit").disabled = false;
    return;
  }
  // The decision is stored: say so even when the reload after it fails (shown as the
  // decision's error, it read as not sent and invited sending it again).
  form.reset();
  const done = $("#decided");
  done.hidden = false;
  setText(done, "rs.submitted", { status: t(`rstatus.${out.review_status}`) });
  try {
    await load();
  } catch (err) {
    showError($("#page-error"), err);
  } finally {
    $("#submit").disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------

function renderAll() {
  renderHead();
  renderTranscript();
  renderFindings();
  renderDecision();
  timeline = buildTimeline($("#timeline"), data, (x) => player.seek(x), (f) => focusFinding(f));
  if (activeFinding !== null) timeline.mark(activeFinding);
  onTime(player.t, player.playing);
}

async function load() {
  data = await get(`/api/review/sessions/${encodeURIComponent(sessionId)}`);
  if (!player) {
    player = new SyncPlayer($("#panes"), data.duration_s);
    player.onTime(onTime);
    const hasTracks = Object.values(data.media.tracks).some((segs) => segs.length);
    $("#mode").hidden = !(data.media.review && hasTracks);
    const start = data.media.review ? "review" : "tracks";
    if (!hasTracks && !data.media.review) $("#panes").replaceChildren(el("p", { i18n: ["rs.no_recordings"] }));
    else setMode(start);
    // Disabled in the HTML until there is a player: a click before did nothing (no handler
    // yet) or threw (player still null), and a speed chosen then was not the player's.
    $("#play").disabled = false;
    $("#speed").disabled = false;
    player.setRate(Number($("#speed").value));
  }
  renderAll();
}

async function main() {
  await firstLoad(startReviewerPage);
  $("#play").addEventListener("click", () => player.toggle());
  $("#speed").addEventListener("change", (e) => player.setRate(Number(e.target.value)));
  for (const b of document.querySelectorAll("#mode button")) b.addEventListener("click", () => setMode(b.dataset.mode));
  $("#decision-form").addEventListener("submit", submitDecision);
  $("#submit").disabled = false; // disabled in the HTML until this handler is on (docs/browsers.md)
  document.addEventListener("kesu:lang", () => data && renderAll());
  document.addEventListener("keydown", (e) => {
    if (player && e.code === "Space" && !e.target.closest("textarea, input, select, button")) {
      e.preventDefault();
      player.toggle();
    }
  });
  await firstLoad(load);
}

main().catch((err) => showError(document.getElementById("page-error"), err));
entryLoaded("review_session.js");
