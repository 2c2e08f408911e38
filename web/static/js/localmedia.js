// The camera and microphone a call sends (both pages, and the device check before it).

import { mediaErrorKey, mediaSupportProblem } from "./devicecheck.js";
import "./media_i18n.js";

export const MEDIA_CONSTRAINTS = {
  audio: true,
  video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30, max: 30 } },
};
// Any picture at all: for a camera that has no mode within MEDIA_CONSTRAINTS (a `max` is a
// must, and some phones' browsers and WebViews refuse an `ideal` they cannot meet too).
const PLAIN_CONSTRAINTS = { audio: true, video: true };
const OVERCONSTRAINED = new Set(["OverconstrainedError", "ConstraintNotSatisfiedError"]);
// The browser's question (allow camera and microphone?) can go unanswered, unseen (behind
// another tab, a WeChat WebView that never shows it), and getUserMedia then never settles:
// after this long the page says what it is waiting for.
const PERMISSION_HINT_MS = 8000;

/**
 * Camera (640x480) and microphone. Rejects with an Error whose ``i18nKey`` ("media.denied",
 * "media.absent", "media.no_camera", "media.no_mic", "media.busy", "media.insecure",
 * "media.in_app", "media.unsupported", "media.failed") says in the page's language what the
 * user can do; ``name`` is the browser's. ``onWaiting()`` is called when the browser has not
 * answered after PERMISSION_HINT_MS (the page shows "media.waiting").
 */
export async function openLocalMedia({ onWaiting = null } = {}) {
  const problem = mediaSupportProblem();
  if (problem) {
    const err = new Error(`camera and microphone unavailable (${problem})`);
    err.name = "MediaUnsupported";
    err.i18nKey = problem;
    throw err;
  }
  const hint = onWaiting ? setTimeout(onWaiting, PERMISSION_HINT_MS) : null;
  try {
    return await openWithFallback();
  } catch (err) {
    const wrapped = new Error((err && err.message) || String(err));
    wrapped.name = (err && err.name) || "Error";
    wrapped.i18nKey = mediaErrorKey(err);
    if (wrapped.i18nKey === "media.absent") wrapped.i18nKey = await missingDevice();
    throw wrapped;
  } finally {
    clearTimeout(hint);
  }
}

async function openWithFallback() {
  try {
    return await navigator.mediaDevices.getUserMedia(MEDIA_CONSTRAINTS);
  } catch (err) {
    // Before, this read as "no camera or microphone found", and so it stayed.
    if (!err || !OVERCONSTRAINED.has(err.name)) throw err;
    return navigator.mediaDevices.getUserMedia(PLAIN_CONSTRAINTS);
  }
}

/** Which device is missing, when the list of devices says ("media.no_camera", "media.no_mic"),
 * else "media.absent" (browsers list the kinds present before any permission is given). */
async function missingDevice() {
  try {
    const kinds = new Set((await navigator.mediaDevices.enumerateDevices()).map((d) => d.kind));
    const camera = kinds.has("videoinput");
    const mic = kinds.has("audioinput");
    if (mic && !camera) return "media.no_camera";
    if (camera && !mic) return "media.no_mic";
  } catch {
    // no enumerateDevices (or it failed): the message names both
  }
  return "media.absent";
}
