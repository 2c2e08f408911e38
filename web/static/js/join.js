// Customer's page (phone first): who is calling, explicit consent, device check, then the call
// with the current script step in large type. Authenticated by the token in the URL alone.

import { ApiError, showError } from "./api.js";
import { initI18n, setText } from "./i18n.js";
import { askInPage, dismissAsk } from "./ask.js";
import { mountCameraSwitch } from "./camswitch.js";
import { measureRoundTrip, mediaSupportProblem, startLevelMeter, waitForPicture } from "./devicecheck.js";
import { openLocalMedia, startSessionCall } from "./rtc.js";
import { watchAway } from "./away.js";
import { $, notice, poll, showOnly, showView, entryLoaded } from "./ui.js";
import { linkRequests, loadJoinInfo } from "./join_info.js";
import { mountCustomerPrompts } from "./live_customer.js";

const token = decodeURIComponent(location.pathname.split("/").pop());
const base = `/api/join/${encodeURIComponent(token)}`;
const VIEWS = ["view-loading", "view-consent", "view-declined", "view-check", "view-call", "view-left", "view-ended"];
const state = { info: null, stream: null, stopMeter: null, call: null, stopPoll: null, current: undefined, prompts: null, consenting: false, stopAway: null, camSwitch: null, stopCheckPoll: null, gone: false, noPicture: false };
// While the customer looks at the device check (nothing sent for minutes maybe), ask how the
// link stands this often: a salesperson disabled meanwhile is said at once, not at the next press.
const CHECK_POLL_MS = 3000;

function show(view, step) {
  showView(VIEWS, view);
  $("main").classList.toggle("in-call", view === "view-call"); // wider (kesu.css)
  for (let i = 1; i <= 3; i++) $(`#step-${i}`).className = i <= step ? "active" : "";
  window.scrollTo(0, 0);
}

// Once the page has stopped (link gone, session ended) it shows only why: a request still on
// its way when it stopped must not put its own error over that.
function fail(err) {
  if (!state.gone) showError($("#page-error"), err);
}

// The link was revoked (or has expired, or its salesperson may no longer record) while the
// page was open: every further request with it would be refused the same way. Any request of
// the page or of its call meets it (consent, the device check's poll, the call's heartbeat and
// state poll): say why, stop the call, the polling, the camera and microphone, and leave no
// view, so no button (重新检测, 离开, then 重新加入) sends the dead link once more.
function linkGone(err) {
  if (state.gone) return;
  state.gone = true;
  stopCall();
  showOnly(VIEWS, null);
  showError($("#page-error"), err);
}
const { get, post } = linkRequests(linkGone, showEnded, () => state.gone);

// --- step 1: who is calling, consent ---------------------------------------------------------

function showConsent() {
  const { info } = state;
  setText($("#caller"), "join.invite", { name: info.salesperson.name, institution: info.salesperson.institution || "—" });
  setText($("#hello"), "join.hello", { name: info.customer_name });
  const names = info.product_names && info.product_names.length ? info.product_names : [info.product_name];
  setText($("#product"), "join.product", { product: names.join(" + ") });
  show("view-consent", 1);
}

async function giveConsent() {
  if (state.consenting) return;
  const button = $("#consent-button");
  button.disabled = true;
  state.consenting = true;
  try {
    await post(`${base}/consent`, { consent: true });
    showError($("#page-error"), null);
    await startCheck();
  } catch (err) {
    fail(err);
    button.disabled = !$("#consent-check").checked;
  } finally {
    state.consenting = false;
  }
}

// --- step 2: device check --------------------------------------------------------------------

function mark(id, ok, key = null, vars = {}) {
  const node = $(id);
  node.className = `result ${ok ? "ok" : "fail"}`;
  setText(node, key || (ok ? "join.check_ok" : "join.check_fail"), vars);
}

async function startCheck() {
  if (state.gone) return;
  show("view-check", 2);
  // The salesperson may also end the session meanwhile: /state then says "ended" (a 200).
  if (!state.stopCheckPoll) state.stopCheckPoll = poll(checkStillOn, CHECK_POLL_MS);
  for (const id of ["#check-camera", "#check-mic", "#check-network"]) {
    $(id).className = "result";
    setText($(id), "join.check_testing");
  }
  $("#check-error").hidden = true;
  $("#enter-call").disabled = true;
  // One check at a time: a second press while one runs started a second meter and preview.
  $("#retry-check").disabled = true;
  let media;
  let rtt;
  try {
    [media, rtt] = await Promise.all([checkMedia(), measureRoundTrip(`${base}/state`)]);
  } finally {
    $("#retry-check").disabled = false;
  }
  if (rtt === null) await get(`${base}/state`).catch(() => {}); // refused (linkGone), not the network?
  if (state.gone) return;
  const networkOk = rtt !== null;
  if (networkOk) mark("#check-network", true, "join.check_network_ok", { ms: rtt });
  else mark("#check-network", false);
  const ok = media.ok && networkOk;
  // Say what is wrong and what to do about it: a refused permission, no camera, a camera in
  // use by another app, an in-app browser without camera access, or the network.
  const box = $("#check-error");
  box.hidden = ok;
  if (media.problem) setText(box, media.problem, { message: media.message || "" });
  else if (!networkOk) setText(box, "join.check_network_failed");
  else setText(box, "join.check_failed");
  $("#enter-call").disabled = !ok;
}

async function checkStillOn() {
  const live = await get(`${base}/state`); // refused: linkGone or showEnded
  if (live.status === "ended") showEnded();
}

async function checkMedia() {
  // 重新检测 after a camera or microphone stopped (taken by a phone call or another app,
  // unplugged) or gave no picture opens them again: it checked the same dead tracks before,
  // and only a reload of the page got past 异常.
  if (state.stream && (state.noPicture || state.stream.getTracks().some((t) => t.readyState !== "live"))) {
    for (const track of state.stream.getTracks()) track.stop();
    state.stream = null;
  }
  if (!state.stream) {
    let stream;
    try {
      stream = await openLocalMedia({ onWaiting: () => !state.gone && notice($("#check-error"), "media.waiting") });
    } catch (err) {
      mark("#check-camera", false);
      mark("#check-mic", false);
      return { ok: false, problem: err.i18nKey || "media.failed", message: err.message };
    }
    // The page stopped while the browser opened them: stopCall had nothing to turn off yet.
    if (state.gone) {
      for (const track of stream.getTracks()) track.stop();
      return { ok: false, problem: null };
    }
    state.stream = stream;
  }
  const preview = $("#preview");
  preview.srcObject = state.stream;
  preview.play().catch(() => {});
  const cameraOk = await waitForPicture(preview);
  state.noPicture = !cameraOk;
  mark("#check-camera", cameraOk);
  const mic = state.stream.getAudioTracks()[0];
  const micOk = Boolean(mic && mic.readyState === "live");
  mark("#check-mic", micOk);
  if (state.gone) return { ok: false, problem: null }; // stopped while the picture came
  if (state.stopMeter) state.stopMeter();
  const meter = $("#mic-meter");
  meter.dataset.peak = "0";
  state.stopMeter = startLevelMeter(state.stream, (level) => {
    meter.firstElementChild.style.width = `${level}%`;
    meter.setAttribute("aria-valuenow", String(level));
    meter.dataset.peak = String(Math.max(Number(meter.dataset.peak), level));
  });
  const problem = !cameraOk ? "media.no_picture" : micOk ? null : "join.check_failed";
  return { ok: cameraOk && micOk, problem };
}

// --- step 3: the call ------------------------------------------------------------------------

function renderRtcState(value) {
  const dot = $("#rtc-dot");
  dot.className = `dot ${value === "connected" ? "on" : value === "new" ? "" : "off"}`;
  if (value === "reconnecting") setText($("#rtc-state"), "join.reconnecting", { n: state.call ? state.call.attempt : 1 });
  else setText($("#rtc-state"), `rtc.${value}`);
  $("#reconnect").hidden = !["failed", "disconnected", "interrupted"].includes(value);
}

function renderNode(nodeId) {
  if (nodeId === state.current) return;
  state.current = nodeId;
  const node = state.info.script.find((n) => n.id === nodeId);
  const box = $("#node-text");
  if (!node) setText(box, "join.not_started");
  else {
    delete box.dataset.i18n;
    box.textContent = node.text;
  }
}

function renderLive(data) {
  const salesOn = Boolean(data.connected && data.connected.salesperson);
  $("#remote-overlay").hidden = salesOn;
  // The server could not write part of the call: the salesperson is told to end it; the
  // customer is told calmly that nothing is asked of them (a status, not an alert).
  $("#recording-failed").hidden = !(data.recording_failed && data.recording_failed.length);
  renderNode(data.current_node);
  if (data.status === "ended") showEnded();
  else if (state.call && data.connected && data.connected.customer === false) state.call.serverLost();
}

async function enterCall() {
  if (state.gone) return;
  // A camera or microphone that stopped since the check (a phone call came in) would start
  // the call without picture or sound: the call watches only for devices that stop later.
  if (!state.stream || state.stream.getTracks().some((t) => t.readyState !== "live")) {
    await startCheck(); // opens them again, or says why not
    return;
  }
  stopCheckPoll(); // the call's own state poll takes over
  if (state.stopMeter) {
    state.stopMeter();
    state.stopMeter = null;
  }
  show("view-call", 3);
  $("#local-video").srcObject = state.stream;
  const call = startSessionCall({
    stream: state.stream,
    base,
    role: "customer",
    get,
    post,
    onState: renderRtcState,
    onFatal: fail,
    onStream: (stream) => (state.stream = stream), // the devices opened again mid-call
  });
  state.call = call;
  if (state.stopAway) state.stopAway();
  state.stopAway = watchAway(call, $("#away"));
  if (state.camSwitch) state.camSwitch.close();
  state.camSwitch = mountCameraSwitch({ call, button: $("#switch-camera"), preview: $("#local-video"), onError: fail });
  if (!state.stopPoll) state.stopPoll = poll(async () => renderLive(await get(`${base}/state`)), 1500); // a refusal: get calls linkGone
  if (state.info.live_checks && !state.prompts) {
    state.prompts = mountCustomerPrompts({ base, container: $("#node-text").parentElement });
  }
  await connect(() => call.connect());
}

async function connect(how) {
  try {
    await how();
    showError($("#page-error"), null);
  } catch (err) {
    // Every request of the call goes through linkRequests, which has shown the ended view on
    // this refusal already: nothing more to say.
    if (err instanceof ApiError && err.code === "session_ended") return;
    fail(err);
    if (!state.gone) renderRtcState("failed");
  }
}

async function leave() {
  // Asked in the page: in an app's WebView window.confirm may show nothing and answer no.
  const yes = await askInPage("join.leave_confirm", { yes: "ask.leave_yes", no: "ask.leave_no" });
  if (!yes || state.gone) return;
  state.call.close({ notify: true });
  show("view-left", 3);
}

/** The session has ended (the salesperson ended it, or it was over before the page asked):
 * everything stops as for a dead link, and the ended view is all that is left. */
function showEnded() {
  if (state.gone) return;
  state.gone = true;
  stopCall();
  showError($("#page-error"), null);
  show("view-ended", 3);
}

/** The call is over for this page (ended, or its link is gone): stop polling, prompts, the
 * away watcher, the connection and the camera and microphone. */
function stopCall() {
  dismissAsk(); // 离开通话? is moot now
  stopCheckPoll();
  if (state.stopPoll) state.stopPoll();
  state.stopPoll = null;
  if (state.stopAway) state.stopAway();
  state.stopAway = null;
  if (state.prompts) state.prompts.close();
  if (state.camSwitch) state.camSwitch.close();
  if (state.call) state.call.close({ notify: false });
  if (state.stopMeter) state.stopMeter();
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
}

function stopCheckPoll() {
  if (state.stopCheckPoll) state.stopCheckPoll();
  state.stopCheckPoll = null;
}

/** Before the customer consents: say now if this browser cannot record (in-app, http, old). */
function warnUnsupported() {
  const problem = mediaSupportProblem();
  if (problem) notice($("#page-error"), problem);
}

async function main() {
  initI18n();
  // Re-ticking the box while the consent is on its way must not give the button back.
  $("#consent-check").addEventListener("change", (e) => ($("#consent-button").disabled = !e.target.checked || state.consenting));
  $("#consent-button").addEventListener("click", giveConsent);
  $("#decline-button").addEventListener("click", () => show("view-declined", 1));
  $("#undecline").addEventListener("click", () => show("view-consent", 1));
  $("#retry-check").addEventListener("click", () => startCheck().catch(fail));
  $("#enter-call").addEventListener("click", () => enterCall().catch(fail));
  // Never once the link is gone: their views are hidden then, this also covers a quick press.
  $("#reconnect").addEventListener("click", () => !state.gone && connect(() => state.call.reconnect()));
  $("#leave").addEventListener("click", () => leave().catch(fail));
  $("#rejoin").addEventListener("click", () => {
    if (state.gone) return;
    show("view-call", 3);
    connect(() => state.call.connect());
  });
  await load();
}

async function load() {
  state.info = await loadJoinInfo(base, VIEWS, () => show("view-ended", 3), fail);
  if (!state.info) return;
  if (state.info.mode === "self_service") {
    location.replace(`/self/${encodeURIComponent(token)}`); // the customer records alone
    return;
  }
  warnUnsupported();
  if (state.info.status === "ended") show("view-ended", 3);
  else if (state.info.consent_at) await startCheck();
  else showConsent();
}

main().catch(fail);
entryLoaded("join.js");
