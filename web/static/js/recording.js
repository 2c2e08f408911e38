// The recording indicator both parties see on their picture ("● 录制中 03:12"), so that neither
// can be unaware of the recording (R2, R18). Derived from this page's own media connection: the
// server records a participant exactly while that participant's media reaches it, so
//   connected                                 -> "on"      录制中 + elapsed time
//   interrupted / reconnecting / lost (after being connected once) -> "paused" 录制已暂停
//   not yet connected                         -> "waiting" 尚未开始录制
//   closed (ended, left)                      -> "off"     录制已停止
// The elapsed time is the server's (`elapsed_s` of the polled state, seconds since the session's
// media started), advanced locally between polls, so a wrong clock on the device cannot skew it.
// Self-contained: startSessionCall (rtc.js) calls watchRecording; strings are added here.

import { addStrings, setText } from "./i18n.js";
import { el } from "./ui.js";

addStrings("zh-CN", {
  "rec.waiting": "尚未开始录制",
  "rec.on": "录制中",
  "rec.on_time": "录制中 {time}",
  "rec.paused": "录制已暂停",
  "rec.off": "录制已停止",
  "rec.aria_on": "本次通话正在录音录像",
  "rec.aria_paused": "连接中断，录制已暂停",
});
addStrings("en", {
  "rec.waiting": "Not recording yet",
  "rec.on": "Recording",
  "rec.on_time": "Recording {time}",
  "rec.paused": "Recording paused",
  "rec.off": "Recording stopped",
  "rec.aria_on": "This call is being recorded (audio and video)",
  "rec.aria_paused": "Connection lost, recording paused",
});

const PAUSED_STATES = new Set(["interrupted", "reconnecting", "disconnected", "failed"]);

/** "m:ss" (or "h:mm:ss") of a number of seconds. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** The indicator's state for a MediaCall's current state. */
export function recordingState(call) {
  if (call.closed || call.state === "closed") return "off";
  if (call.interrupted) return "paused";
  if (call.state === "connected") return "on";
  if (call.connectedAt && PAUSED_STATES.has(call.state)) return "paused";
  return "waiting";
}

class Indicator {
  constructor(stage) {
    // The visible label ticks every second; screen readers hear only state changes.
    this.label = el("span", { class: "rec-label", "aria-hidden": "true" });
    this.spoken = el("span", { class: "rec-sr", role: "status" });
    this.node = el(
      "div",
      { class: "rec-indicator", id: "rec-indicator" },
      el("span", { class: "rec-dot", "aria-hidden": "true" }),
      this.label,
      this.spoken,
    );
    stage.append(this.node);
    this.state = null;
    this.elapsed = null; // [server seconds, performance.now() when received]
    this.timer = null;
    this.set("waiting");
  }

  set(state) {
    if (state !== this.state) {
      this.state = state;
      this.node.dataset.rec = state;
      const spoken = { on: "rec.aria_on", paused: "rec.aria_paused" }[state] || `rec.${state}`;
      setText(this.spoken, spoken);
      clearInterval(this.timer);
      this.timer = state === "on" ? setInterval(() => this.render(), 1000) : null;
    }
    this.render();
  }

  serverTime(data) {
    const s = data && typeof data.elapsed_s === "number" ? data.elapsed_s : null;
    this.elapsed = s === null ? null : [s, performance.now()];
    if (this.state === "on") this.render();
  }

  render() {
    if (this.state === "on" && this.elapsed) {
      const [s, at] = this.elapsed;
      setText(this.label, "rec.on_time", { time: clock(s + (performance.now() - at) / 1000) });
    } else setText(this.label, `rec.${this.state}`);
  }
}

let current = null;

function indicatorOnPage() {
  const video = document.querySelector("#remote-video");
  const stage = video && video.closest(".stage");
  if (!stage) return null;
  if (!current || !stage.contains(current.node)) current = new Indicator(stage);
  return current;
}

/**
 * Show the recording state of ``call`` on the page's picture (the .stage around #remote-video).
 * Returns {update(stateData)} to feed the server's polled state (for the elapsed time).
 */
export function watchRecording(call) {
  const indicator = indicatorOnPage();
  if (!indicator) return { update() {} };
  const refresh = () => indicator.set(recordingState(call));
  call.addEventListener("state", refresh);
  call.addEventListener("interrupted", refresh);
  refresh();
  return { update: (data) => indicator.serverTime(data) };
}

// Shown from the start ("尚未开始录制"), not only once a call exists (module scripts run after
// the document is parsed).
indicatorOnPage();
