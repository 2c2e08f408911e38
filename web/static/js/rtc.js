// WebRTC for the call pages (salesperson, customer, self-service): a MediaCall (mediacall.js) on
// one session's media endpoints, its picture and sound shown on the page. The camera and
// microphone are in localmedia.js, ICE helpers in ice.js; their exports are passed on here, as
// the pages and the end-to-end tests import them from this module.

import { fetchIceServers } from "./ice.js";
import { setText } from "./i18n.js";
import { openLocalMedia } from "./localmedia.js";
import { MediaCall } from "./mediacall.js";
import "./media_i18n.js";
import { watchRecording } from "./recording.js";
import { keepScreenOn } from "./wakelock.js";
import { el } from "./ui.js";

export { fetchIceServers, sdpCandidates, selectedCandidatePair, waitIceGathering } from "./ice.js";
export { MEDIA_CONSTRAINTS, openLocalMedia } from "./localmedia.js";
export { MediaCall } from "./mediacall.js";

/**
 * Another media node holds this session's room (409 wrong_node): open this same page on
 * that node, whose offer then succeeds. Any other error is rethrown as it was.
 */
function goToHolder(err) {
  const nodeUrl = err && err.code === "wrong_node" && err.details && err.details.node_url;
  if (nodeUrl) {
    const target = new URL(location.pathname + location.search + location.hash, nodeUrl);
    if (target.origin !== location.origin) location.assign(target.href);
  }
  throw err;
}

/**
 * Play the other party's picture and sound. A browser that refuses to start sound without a tap
 * (iOS Safari or an in-app browser, when the page is not capturing yet) still gets the picture,
 * muted, and a "tap for sound" button over it.
 */
export function playWithSound(video) {
  video.play().catch((err) => {
    if (!err || err.name !== "NotAllowedError") return; // e.g. AbortError: a newer srcObject
    video.muted = true;
    video.play().catch(() => {});
    const stage = video.parentElement;
    if (!stage || stage.querySelector(".unmute")) return;
    const button = el("button", { type: "button", class: "btn unmute", id: "unmute" });
    setText(button, "rtc.unmute");
    button.addEventListener("click", () => {
      video.muted = false;
      video.play().catch(() => {});
      button.remove();
    });
    stage.append(button);
  });
}

/** Hide the page's error box when it still says key (what it said is over). */
function hideNotice(key) {
  const box = document.querySelector("#page-error");
  if (box && box.dataset.i18n === key) box.hidden = true;
}

/**
 * A call on one session's media endpoints (`${base}/offer`, `${base}/leave`), its remote
 * picture shown in `#remote-video`. Both pages (salesperson and customer) use it.
 */
export function startSessionCall({ stream, base, role, get, post, onState, onFatal, onStream = () => {} }) {
  const call = new MediaCall({
    stream,
    reopenMedia: openLocalMedia,
    offer: (sdp, { signal } = {}) => post(`${base}/offer`, { type: "offer", sdp }, { signal }).catch(goToHolder),
    leave: ({ keepalive }) => post(`${base}/leave`, {}, { keepalive }),
    ping: async ({ signal }) => {
      const data = await get(`${base}/state`, { signal });
      recording.update(data);
      return Boolean(data.connected && data.connected[role]);
    },
    iceServers: () => fetchIceServers(`${base}/ice`),
  });
  window.kesuCall = call; // for diagnostics and the end-to-end test
  const recording = watchRecording(call);
  keepScreenOn(call);
  call.addEventListener("state", (e) => onState(e.detail));
  call.addEventListener("track", (e) => {
    const video = document.querySelector("#remote-video");
    if (video.srcObject !== e.detail) video.srcObject = e.detail;
    playWithSound(video);
  });
  call.addEventListener("fatal", (e) => onFatal(e.detail));
  call.addEventListener("devicelost", () => {
    const err = new Error("a camera or microphone stopped during the call");
    err.name = "DeviceLost";
    err.i18nKey = "media.lost";
    onFatal(err);
  });
  call.addEventListener("noroute", () => {
    const err = new Error("the media connection did not come up");
    err.name = "NoRoute";
    err.i18nKey = "rtc.no_route";
    onFatal(err); // only said: the call goes on trying by itself
  });
  call.addEventListener("stream", (e) => {
    document.querySelector("#local-video").srcObject = e.detail;
    onStream(e.detail);
    hideNotice("media.lost"); // the devices are back
  });
  call.addEventListener("state", (e) => {
    if (e.detail === "connected") hideNotice("rtc.no_route");
  });
  call.addEventListener("giveup", () => onState("failed"));
  call.addEventListener("interrupted", (e) => {
    document.querySelector("#rtc-banner").hidden = !e.detail;
  });
  return call;
}
