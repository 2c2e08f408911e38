// Customer's self-service page (自助双录), phone first: consent, then the script one step at a
// time with no salesperson. Played steps come from the server as the system track (heard
// through the call's remote audio); shown steps are read aloud by the customer; answers are
// heard and classified by the server (asked again when unclear); ID card and signed page are
// read from a still of the customer's own camera. Ends with a summary the customer submits.

import { ApiError, retryable, showError } from "./api.js";
import { initI18n, setText } from "./i18n.js";
import { mediaSupportProblem } from "./devicecheck.js";
import "./playback_i18n.js";
import { openLocalMedia, startSessionCall } from "./rtc.js";
import { watchAway } from "./away.js";
import { mountCameraSwitch } from "./camswitch.js";
import { $, el, notice, showOnly, showView, entryLoaded } from "./ui.js";
import { linkRequests, loadJoinInfo } from "./join_info.js";
import { runStep } from "./self_steps.js";
import { pressed } from "./tapguard.js";

const token = decodeURIComponent(location.pathname.split("/").pop());
const base = `/api/join/${encodeURIComponent(token)}`;
const VIEWS = ["view-loading", "view-intro", "view-step", "view-summary", "view-done", "view-ended"];
// gone: the page has stopped (link dead, session ended, or submitted) and sends nothing more;
// finishing: 完成并提交 is on its way (the session it ends is then no surprise).
const state = { info: null, stream: null, call: null, camSwitch: null, running: false, gone: false, finishing: false };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Once the page has stopped it shows only why: a step's request refused or cut off by the stop
// must not put its own error over that.
function fail(err) {
  if (!state.gone) showError($("#page-error"), err);
}

/** Stop for good: the call, the camera and microphone, 录制中; no view left. */
function stopPage() {
  state.gone = true;
  if (state.camSwitch) state.camSwitch.close();
  if (state.call) state.call.close({ notify: false });
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
  showOnly(VIEWS, null); // no step left to read, tap or answer
  $("#rec").hidden = true;
}

// The link was revoked or has expired, or its salesperson may no longer record, while the page
// was open: every further request with it would be refused the same way. Any request of the
// page or its call (the call's heartbeat meets it within a second, also while the customer
// reads a step and sends nothing) stops the recording here and says why; before, the page
// went on with a dead call, its camera on and a heartbeat refused every second.
function linkGone(err) {
  if (state.gone) return;
  stopPage(); // only the reason is left
  showError($("#page-error"), err);
}

// The salesperson (or the system) ended the session while the customer was at it: before, the
// page kept the step with its 下一步 and a 重新连接, the camera on and the call's heartbeat
// asking every second, and said nothing (or 本次双录已结束。 when its offer was refused; a
// played step's wait for its playback would ask every 400 ms). Now it stops as for a dead link
// and says that the recording has ended. Any answer may tell: a refusal (409/410
// session_ended) or a state that reads "ended" (the heartbeat's, within a second).
function ended() {
  // 完成并提交 ends the session itself: its own answer says what happened (view-done).
  if (state.gone || state.finishing) return;
  stopPage();
  showError($("#page-error"), null);
  showView(VIEWS, "view-ended");
}

const link = linkRequests(linkGone, ended, () => state.gone);
const post = link.post;

/** GET with the link: an answer about the session (the call's heartbeat, a step waiting for
 * its playback, the summary) may say that it has ended. */
async function get(path, options) {
  const data = await link.get(path, options);
  if (data && data.status === "ended") ended();
  return data;
}

function renderRtcState(value) {
  $("#rtc-dot").className = `dot ${value === "connected" ? "on" : value === "new" ? "" : "off"}`;
  setText($("#rtc-state"), `rtc.${value === "reconnecting" ? "connecting" : value}`);
  $("#rec").hidden = value !== "connected";
  // After the automatic rejoins give up ("failed") only a reload helped: the customer gets
  // the button the join page has, which starts the attempts again.
  $("#ss-reconnect").hidden = !["failed", "disconnected", "interrupted"].includes(value);
}

async function connect() {
  $("#local-video").srcObject = state.stream;
  // Made once: 重试 after a failed first connection connects the same call again.
  if (!state.call) {
    state.call = startSessionCall({
      stream: state.stream,
      base,
      role: "customer",
      get,
      post,
      onState: renderRtcState,
      onFatal: fail,
      onStream: (stream) => (state.stream = stream), // the devices opened again mid-call
    });
    watchAway(state.call, $("#away"));
    // 切换摄像头, as in the join page's call: the back camera shows an ID card or the signed
    // page without turning the phone round (the still is taken from the picture shown).
    state.camSwitch = mountCameraSwitch({ call: state.call, button: $("#switch-camera"), preview: $("#local-video"), onError: fail });
  }
  await state.call.connect();
  for (let i = 0; i < 100; i++) {
    const live = await get(`${base}/state`);
    if (live.connected && live.connected.customer) return;
    await sleep(300);
  }
  const err = new Error("the connection did not come up");
  err.i18nKey = "rtc.no_route"; // what to do about it, not this sentence (重试 tries again)
  throw err;
}

/** Resolves when the network is back after a request failed for want of it: the browser
 * says it is online again, or the call's heartbeat reaches the server again after losing it
 * (a weak network the browser still counts as online). `stop()` drops the listeners. */
function networkBack() {
  let stop = () => {};
  const back = new Promise((resolve) => {
    const onResumed = (e) => !e.detail && resolve();
    const call = state.call;
    window.addEventListener("online", resolve);
    if (call) call.addEventListener("interrupted", onResumed);
    stop = () => {
      window.removeEventListener("online", resolve);
      if (call) call.removeEventListener("interrupted", onResumed);
    };
  });
  return { back, stop };
}

/** Run fn (connecting, one step); when one of its requests fails (a network blip, a server
 * error) the customer is told and 重试 runs it again, instead of a recording stuck half way
 * with no way on. A request that failed for want of a network (a lift, a tunnel) is run
 * again by itself once the network is back: before, the step waited for a tap on 重试 that
 * the customer, told the connection would come back by itself, did not know to give. */
async function untilDone(fn) {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (state.gone || !retryable(err)) throw err;
      fail(err);
      for (const id of ["#ss-capture", "#ss-next"]) $(id).hidden = true;
      // status 0: no answer at all (the network, a timeout), not a server's refusal
      const network = err instanceof ApiError && err.status === 0 ? networkBack() : null;
      try {
        await pressed($("#ss-retry"), network && network.back);
      } finally {
        if (network) network.stop();
      }
      showError($("#page-error"), null);
    }
  }
}

// --- summary ----------------------------------------------------------------------------------

function summaryItems(nodes) {
  return nodes.map((n) => {
    const badges = [el("span", { class: `badge ${n.presented === "missing" ? "bad" : ""}`, i18n: [`ss.status.${n.presented}`] })];
    if (n.answer) badges.push(el("span", { class: `badge ${n.answer === "affirmative" ? "" : "bad"}`, i18n: [`ss.status.${n.answer === "unsure" ? "review" : n.answer}`] }));
    if (n.document) badges.push(el("span", { class: `badge ${n.document === "captured" ? "" : "bad"}`, i18n: [`ss.status.${n.document}`] }));
    return el("li", { dataset: { node: n.id } }, n.title, ...badges);
  });
}

async function showSummary() {
  const { nodes } = await untilDone(() => get(`${base}/summary`)); // still on the last step
  $("#summary").replaceChildren(...summaryItems(nodes));
  showView(VIEWS, "view-summary");
  let done = null;
  while (!done) {
    await pressed($("#ss-finish"));
    let refused = null;
    state.finishing = true;
    try {
      done = await post(`${base}/finish`);
    } catch (err) {
      refused = err;
    }
    // Down before ended() below, which ignores an end while 完成并提交 is on its way. Nothing is
    // awaited from here to state.gone = true, so no other answer finds neither flag up.
    state.finishing = false;
    if (!refused) {
      showError($("#page-error"), null);
    } else if (refused instanceof ApiError && refused.code === "session_ended") {
      ended(); // by the salesperson meanwhile, not by this submission
      return;
    } else {
      fail(refused); // the button comes back: the recording is kept until it is submitted
    }
  }
  state.gone = true; // submitted: the session has ended, and this page is done
  if (state.camSwitch) state.camSwitch.close();
  if (state.call) {
    state.call.close({ notify: false });
    state.call.stopMedia();
  }
  $("#rec").hidden = true;
  $("#summary-done").replaceChildren(...summaryItems(done.nodes));
  showView(VIEWS, "view-done");
}

async function run() {
  $("#ss-start").disabled = true;
  if (!state.info.consent_at) {
    await post(`${base}/consent`, { consent: true });
    state.info.consent_at = new Date().toISOString(); // a retry after a camera refusal asks once
  }
  if (!state.stream) {
    // Camera and microphone first, on this page: a refusal is explained here and the customer
    // can try again with the same button (not left on an empty step).
    let stream;
    try {
      stream = await openLocalMedia({ onWaiting: () => !state.gone && notice($("#page-error"), "media.waiting") });
    } catch (err) {
      fail(err);
      // The camera messages end with "tap 重新检测" (the join page's button): this page's own
      // way on, the start button, says so too. Before, the customer looked for a button that
      // this page does not have.
      setText($("#ss-start"), "join.check_retry");
      $("#ss-start").disabled = false;
      return;
    }
    if (state.gone) {
      for (const track of stream.getTracks()) track.stop(); // stopped while the browser opened them
      return;
    }
    state.stream = stream;
  }
  showError($("#page-error"), null);
  showView(VIEWS, "view-step");
  await untilDone(connect);
  const script = state.info.script;
  const ctx = { base, state, get, post, fail };
  for (let i = 0; i < script.length; i++) await untilDone(() => runStep(ctx, script[i], i, script.length));
  await showSummary();
}

async function main() {
  initI18n();
  const box = $("#ss-consent");
  // While a start runs (consent, camera, connection), re-ticking the box must not give the
  // button back: a second click would run the whole recording twice.
  box.addEventListener("change", () => ($("#ss-start").disabled = !box.checked || state.running));
  $("#ss-start").addEventListener("click", async () => {
    if (state.running) return;
    state.running = true;
    try {
      await run();
    } catch (err) {
      fail(err);
      // Failed before the recording began (the consent not sent, a network blip): the same
      // button tries again instead of staying disabled.
      if (!$("#view-intro").hidden) $("#ss-start").disabled = !box.checked;
    } finally {
      state.running = false;
    }
  });
  $("#ss-reconnect").addEventListener("click", () => {
    if (!state.call) return;
    $("#ss-reconnect").hidden = true;
    state.call.reconnect().catch((err) => {
      fail(err);
      renderRtcState("failed");
    });
  });
  await load();
}

async function load() {
  // Ended before the page asked: not 提交成功 (view-done), which the customer may never have
  // pressed (the salesperson or the system ended it), but that the recording has ended.
  state.info = await loadJoinInfo(base, VIEWS, () => showOnly(VIEWS, "view-ended"), fail);
  if (!state.info) return;
  if (state.info.status === "ended") {
    showOnly(VIEWS, "view-ended");
    return;
  }
  const minutes = Math.max(1, Math.round((state.info.estimated_s || 60 * state.info.script.length / 3) / 60));
  setText($("#intro"), "ss.intro", { name: state.info.customer_name, min: minutes });
  $("#product").textContent = state.info.product_name;
  const box = $("#ss-consent");
  if (state.info.consent_at) box.checked = true;
  $("#ss-start").disabled = !box.checked;
  showOnly(VIEWS, "view-intro");
  const problem = mediaSupportProblem(); // in-app browser, http, too old: say so before starting
  if (problem) notice($("#page-error"), problem);
}

main().catch(fail);
entryLoaded("selfservice.js");
