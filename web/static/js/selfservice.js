// Customer's self-service page (自助双录), phone first: consent, then the script one step at a
// time with no salesperson. Played steps come from the server as the system track (heard
// through the call's remote audio); shown steps are read aloud by the customer; answers are
// heard and classified by the server (asked again when unclear); ID card and signed page are
// read from a still of the customer's own camera. Ends with a summary the customer submits.

import { ApiError, retryable, showError } from "./api.js";
import { initI18n, setText } from "./i18n.js";
import { mediaSupportProblem, startLevelMeter } from "./devicecheck.js";
import "./playback_i18n.js";
import { openLocalMedia, startSessionCall } from "./rtc.js";
import { watchAway } from "./away.js";
import { $, el, notice, showOnly, showView, entryLoaded } from "./ui.js";
import { linkRequests, loadJoinInfo } from "./join_info.js";

const token = decodeURIComponent(location.pathname.split("/").pop());
const base = `/api/join/${encodeURIComponent(token)}`;
const VIEWS = ["view-loading", "view-intro", "view-step", "view-summary", "view-done", "view-ended"];
// gone: the page has stopped (link dead, session ended, or submitted) and sends nothing more;
// finishing: 完成并提交 is on its way (the session it ends is then no surprise).
const state = { info: null, stream: null, call: null, running: false, gone: false, finishing: false };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Once the page has stopped it shows only why: a step's request refused or cut off by the stop
// must not put its own error over that.
function fail(err) {
  if (!state.gone) showError($("#page-error"), err);
}

/** Stop for good: the call, the camera and microphone, 录制中; no view left. */
function stopPage() {
  state.gone = true;
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

function status(key, vars = {}, cls = "") {
  const box = $("#step-status");
  box.className = `notice ${cls}`;
  box.hidden = false;
  setText(box, key, vars);
}

// 下一步, 拍摄 and 重试 take each other's place in one row: the second tap of a quick double
// tap (or a held Enter key) reached the button shown after the first one, which skipped a
// step unread or took a still before the card was held up. A button is taken only once it
// has been on screen DOUBLE_TAP_MS, and never by a tap counted as the second of a double tap.
// It is truly disabled until then (not only aria-disabled): a click on it is then dropped by
// the browser itself, and test drivers and assistive tools that wait for an enabled button
// (Playwright, Selenium's element_to_be_clickable) all see the same state.
const DOUBLE_TAP_MS = 500;
let pressedByKey = false; // the last press was Enter/Space: keep the keyboard's place
const arming = new Map(); // button -> its timer (a step run again shows it anew)

/** Show a button and resolve when it is pressed (then hide it again). */
function pressed(button) {
  button.hidden = false;
  button.disabled = true;
  clearTimeout(arming.get(button));
  arming.set(
    button,
    setTimeout(() => {
      button.disabled = false;
      // The pressed button was hidden, so focus fell to the page: give it to the one in its place.
      if (pressedByKey && (!document.activeElement || document.activeElement === document.body)) button.focus();
    }, DOUBLE_TAP_MS),
  );
  return new Promise((resolve) => {
    const onClick = (event) => {
      if (event.detail > 1 || button.disabled) return;
      pressedByKey = event.detail === 0;
      button.removeEventListener("click", onClick);
      button.hidden = true;
      resolve();
    };
    button.addEventListener("click", onClick);
  });
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

// --- one step ---------------------------------------------------------------------------------

async function playNode(node) {
  status("ss.listen");
  for (let attempt = 0; attempt < 2; attempt++) {
    await post(`${base}/playback`, { node: node.id });
    for (;;) {
      await sleep(400);
      const pb = (await get(`${base}/state`)).playback || {};
      if (pb.node === node.id && !pb.playing) {
        if (pb.complete) return true;
        break; // cut short (e.g. a reconnect): play it again once
      }
    }
  }
  status("pb.stopped", {}, "warn");
  return false;
}

function snapshot() {
  const video = $("#local-video");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth || 640;
  canvas.height = video.videoHeight || 480;
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", 0.85);
}

async function captureDocument(node) {
  status(`ss.doc.${node.document}`);
  for (let tries = 1; ; tries++) {
    await pressed($("#ss-capture"));
    status("ss.doc.reading");
    const read = await post(`${base}/document`, { node: node.id, image: snapshot() });
    if (read.ok) {
      if (node.document === "id_card") status("ss.doc.ok_card", { name: read.name || "", number: read.id_number || "" }, "ok");
      else status("ss.doc.ok_page", {}, "ok");
      await sleep(1200);
      return;
    }
    status("ss.doc.retry", {}, "warn");
    if (tries >= 3) {
      // Never stuck: after three tries the customer may go on (the reviewer sees the video).
      await Promise.race([pressed($("#ss-next")), captureDocument(node)]);
      return;
    }
  }
}

async function hearAnswer(node) {
  const attempts = state.info.answer_attempts || 3;
  const listenMs = (state.info.listen_s || 5) * 1000;
  const meter = $("#ss-meter");
  for (let attempt = 1; attempt <= attempts; attempt++) {
    status("ss.answer_now", { hint: node.expected_answer || "是的" });
    meter.hidden = false;
    const stop = startLevelMeter(state.stream, (level) => (meter.firstElementChild.style.width = `${level}%`));
    await sleep(listenMs);
    stop();
    meter.hidden = true;
    status("ss.checking");
    let heard;
    try {
      heard = await post(`${base}/answer`, { node: node.id, attempt });
      showError($("#page-error"), null);
    } catch (err) {
      if (state.gone) throw err; // not a blip: nothing more will be heard
      fail(err); // e.g. a network blip: ask again rather than stop the recording
      heard = { kind: "missing", retry: attempt < attempts, review: attempt >= attempts };
    }
    if (heard.kind === "affirmative") status("ss.answer.affirmative", { text: heard.text }, "ok");
    else if (heard.kind === "negative") status("ss.answer.negative", { text: heard.text }, "warn");
    else if (heard.review) status("ss.answer.review", {}, "warn");
    else status("ss.answer.unclear", {}, "warn");
    await sleep(1500);
    if (!heard.retry) return heard;
  }
  return null;
}

/** Run fn (connecting, one step); when one of its requests fails (a network blip, a server
 * error) the customer is told and 重试 runs it again, instead of a recording stuck half way
 * with no way on. */
async function untilDone(fn) {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (state.gone || !retryable(err)) throw err;
      fail(err);
      for (const id of ["#ss-capture", "#ss-next"]) $(id).hidden = true;
      await pressed($("#ss-retry"));
      showError($("#page-error"), null);
    }
  }
}

async function runStep(node, i, n) {
  setText($("#step-pos"), "ss.step", { i: i + 1, n });
  $("#step-title").textContent = node.title;
  $("#step-text").textContent = node.text;
  document.body.dataset.step = node.id;
  if (node.playback) await playNode(node);
  else {
    await post(`${base}/node`, { node: node.id });
    status("ss.read");
    await pressed($("#ss-next"));
  }
  if (node.document) await captureDocument(node);
  if (node.requires_answer) await hearAnswer(node);
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
  for (let i = 0; i < script.length; i++) await untilDone(() => runStep(script[i], i, script.length));
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
