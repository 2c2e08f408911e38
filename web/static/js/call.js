// Salesperson's call page: own camera + the customer's video, connection and consent status,
// the script as a teleprompter (each step POSTed so the server stamps it), and ending the recording.

import { firstLoad, get, post, requireLogin, showError } from "./api.js";
import { formatTime, has, initI18n, setText, t } from "./i18n.js";
import { confirmEnd, mountLive } from "./live.js";
import { askInPage } from "./ask.js";
import { mountCameraSwitch } from "./camswitch.js";
import { productsLabel } from "./products.js";
import { openLocalMedia, startSessionCall } from "./rtc.js";
import { $, copyText, el, notice, poll, entryLoaded } from "./ui.js";

const sessionId = decodeURIComponent(location.pathname.split("/").pop());
const base = `/api/sessions/${encodeURIComponent(sessionId)}`;
const state = { script: [], current: null, call: null, camSwitch: null, ended: false, consentAt: null, stopPoll: null, live: null, moves: 0 };

function nodeIndex() {
  return state.script.findIndex((n) => n.id === state.current);
}

function renderNode() {
  const i = nodeIndex();
  const node = state.script[i];
  const n = state.script.length;
  const next = $("#next-node");
  $("#prev-node").disabled = state.ended || i <= 0;
  const tags = $("#node-tags");
  tags.replaceChildren();
  if (!node) {
    $("#node-pos").textContent = "";
    $("#node-title").textContent = "";
    setText($("#node-text"), "call.not_started");
    setText(next, "call.begin");
    next.disabled = state.ended || n === 0;
  } else {
    setText($("#node-pos"), "call.node_pos", { i: i + 1, n });
    $("#node-title").textContent = node.title;
    const text = $("#node-text");
    delete text.dataset.i18n;
    text.textContent = node.text;
    tags.append(el("span", { class: "badge", i18n: [`speaker.${node.speaker}`] }));
    if (node.requires_answer) tags.append(el("span", { class: "badge review", i18n: ["call.requires_answer"] }));
    if (node.document) {
      const doc = el("span", { class: "badge live" });
      setText(doc, "call.document", { document: docName(node.document) });
      tags.append(doc);
    }
    const last = i === n - 1;
    setText(next, last ? "call.done" : "call.next");
    next.disabled = state.ended || last;
  }
  $("#node-list").replaceChildren(
    ...state.script.map((x, k) =>
      el("li", { class: k === i ? "current" : k < i ? "done" : "" }, x.title),
    ),
  );
  // The list scrolls inside the card (recording.css): keep the current step in sight there,
  // without scrolling the window (scrollIntoView would).
  const list = $("#node-list");
  const current = list.querySelector("li.current");
  if (current) list.scrollTop = current.offsetTop - list.offsetTop - list.clientHeight / 3;
}

function docName(doc) {
  return has(`doc.${doc}`) ? t(`doc.${doc}`) : doc;
}

async function goto(index) {
  const node = state.script[index];
  if (!node) return;
  const buttons = [$("#next-node"), $("#prev-node")];
  for (const b of buttons) b.disabled = true;
  // A state poll that overlaps this move may carry the old node: it must not move the script
  // back (counted at both ends, so a poll sent while the move is in flight is also stale).
  state.moves += 1;
  try {
    const { session } = await post(`${base}/node`, { node: node.id });
    state.current = session.current_node;
    showError($("#page-error"), null);
  } catch (err) {
    showError($("#page-error"), err);
  } finally {
    state.moves += 1;
  }
  renderNode();
}

function renderRtcState(value) {
  const dot = $("#rtc-dot");
  dot.className = `dot ${value === "connected" ? "on" : value === "new" ? "" : "off"}`;
  if (value === "reconnecting") setText($("#rtc-state"), "call.reconnecting", { n: state.call ? state.call.attempt : 1 });
  else setText($("#rtc-state"), `rtc.${value}`);
  $("#reconnect").hidden = state.ended || !["failed", "closed", "disconnected", "interrupted"].includes(value);
}

function renderLive(data) {
  const customerOn = Boolean(data.connected && data.connected.customer);
  $("#customer-dot").className = `dot ${customerOn ? "on" : "off"}`;
  setText($("#customer-state"), customerOn ? "call.customer_on" : "call.customer_off");
  $("#remote-overlay").hidden = customerOn;
  // The server could not write part of the call (a full or failing disk): say so at once.
  $("#recording-failed").hidden = !(data.recording_failed && data.recording_failed.length);
  // A join let in below min_free_mb (the recording had started): finish soon.
  $("#storage-low").hidden = !data.storage_low;
  const consent = $("#consent-state");
  state.consentAt = data.consent_at;
  if (data.consent_at) {
    consent.className = "notice ok";
    setText(consent, "call.consent_yes", { time: formatTime(data.consent_at) });
  } else {
    consent.className = "notice warn";
    setText(consent, "call.consent_no");
  }
  if (data.current_node !== state.current) {
    state.current = data.current_node;
    renderNode();
  }
  if (data.status === "ended" && !state.ended) showEnded();
  else if (state.call && data.connected && data.connected.salesperson === false) state.call.serverLost();
}

async function startCall() {
  const button = $("#start-call");
  button.disabled = true;
  setText(button, "call.starting");
  showError($("#page-error"), null);
  let stream;
  try {
    stream = await openLocalMedia({ onWaiting: () => notice($("#page-error"), "media.waiting") });
  } catch (err) {
    // The same explanations as the customer's page (refused, missing, in use, http...), which
    // end with "tap 重新检测": this button says so now (it tries again).
    showError($("#page-error"), err);
    button.disabled = false;
    setText(button, "join.check_retry");
    return;
  }
  showError($("#page-error"), null); // the wait for the browser's permission is over
  $("#local-video").srcObject = stream;
  const call = startSessionCall({
    stream,
    base,
    role: "salesperson",
    get,
    post,
    onState: renderRtcState,
    onFatal: (err) => showError($("#page-error"), err),
  });
  state.call = call;
  const onError = (err) => showError($("#page-error"), err);
  if (state.camSwitch) state.camSwitch.close(); // of a call whose start failed
  state.camSwitch = mountCameraSwitch({ call, button: $("#switch-camera"), preview: $("#local-video"), onError });
  try {
    await call.connect();
    button.hidden = true;
  } catch (err) {
    showError($("#page-error"), err);
    button.disabled = false;
    setText(button, "call.start");
  }
}

async function reconnect() {
  if (!state.call) return startCall();
  try {
    await state.call.reconnect();
    showError($("#page-error"), null);
  } catch (err) {
    showError($("#page-error"), err);
  }
}

async function endCall() {
  // With required items missing (live checks), the dialog lists them; ending anyway is allowed
  // and the server stores that it was confirmed.
  const missing = state.live ? state.live.missing() : [];
  if (missing.length) {
    if (!(await confirmEnd(missing))) return;
  } else {
    const question = state.consentAt ? "call.end_confirm" : "call.end_no_consent";
    if (!(await askInPage(question))) return;
  }
  $("#end-call").disabled = true;
  try {
    await post(`${base}/end`, { confirm_missing: missing.length > 0 });
    showEnded();
  } catch (err) {
    if (err.code === "missing_items" && (await confirmEnd(err.details.missing || []))) {
      try {
        await post(`${base}/end`, { confirm_missing: true });
        showEnded();
        return;
      } catch (again) {
        err = again;
      }
    }
    showError($("#page-error"), err);
    $("#end-call").disabled = false;
  }
}

function showEnded() {
  state.ended = true;
  if (state.stopPoll) state.stopPoll();
  if (state.live) state.live.close();
  if (state.camSwitch) state.camSwitch.close();
  if (state.call) {
    state.call.close({ notify: false });
    state.call.stopMedia();
  }
  $("#ended-panel").hidden = false;
  $("#call").hidden = true; // nothing left to do there; the list has the session's state
  for (const id of ["start-call", "reconnect", "end-call", "next-node", "prev-node"]) $(`#${id}`).disabled = true;
  $("#reconnect").hidden = true;
  renderRtcState("closed");
}

async function copyLink() {
  const status = $("#copy-status");
  try {
    const link = await post(`${base}/link`);
    const ok = await copyText(link.url);
    status.hidden = false;
    status.className = ok ? "notice ok" : "notice warn";
    if (ok) setText(status, "sales.copied");
    else {
      delete status.dataset.i18n;
      status.textContent = link.url;
    }
  } catch (err) {
    showError($("#page-error"), err);
  }
}

async function revokeLink() {
  if (!(await askInPage("call.revoke_confirm"))) return;
  const status = $("#copy-status");
  try {
    await post(`${base}/link/revoke`);
    status.hidden = false;
    status.className = "notice warn";
    setText(status, "call.link_revoked");
  } catch (err) {
    showError($("#page-error"), err);
  }
}

async function main() {
  initI18n();
  // 重试 on the page when these fail (a salesperson about to call should not have to reload).
  const data = await firstLoad(async () => {
    await requireLogin();
    return get(base);
  });
  state.script = data.script;
  state.current = data.session.current_node;
  setText($("#session-info"), "call.session_info", { customer: data.session.customer_name, product: productsLabel(data.session) });
  setText($("#estimate"), "call.estimated", { min: Math.max(1, Math.round(data.estimated_s / 60)) });
  $("#start-call").addEventListener("click", startCall);
  $("#start-call").disabled = false; // enabled only once it does something
  $("#reconnect").addEventListener("click", reconnect);
  $("#next-node").addEventListener("click", () => goto(nodeIndex() + 1));
  $("#prev-node").addEventListener("click", () => goto(nodeIndex() - 1));
  $("#end-call").addEventListener("click", endCall);
  $("#copy-link").addEventListener("click", copyLink);
  $("#revoke-link").addEventListener("click", revokeLink);
  // Disabled in the HTML until now, when they do something: a click before the session loaded
  // was lost. 开始话术 / 上一步 are enabled by renderNode (which also knows the first and last step).
  $("#copy-link").disabled = false;
  $("#revoke-link").disabled = false;
  $("#end-call").disabled = false;
  renderNode();
  renderLive(data.session);
  document.addEventListener("kesu:lang", renderNode);
  if (data.session.status === "ended") {
    showEnded();
    return;
  }
  if (data.live_checks) state.live = mountLive({ base, container: $("#call > section") });
  state.stopPoll = poll(async () => {
    const moves = state.moves;
    const data = await get(`${base}/state`);
    const settled = moves === state.moves && moves % 2 === 0; // no move began or is under way
    renderLive(settled ? data : { ...data, current_node: state.current });
  }, 2000, () => {});
}

main().catch((err) => showError(document.getElementById("page-error"), err));
entryLoaded("call.js");
