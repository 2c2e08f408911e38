// The camera and microphone a call sends (both pages, and the device check before it).

import { mediaErrorKey, mediaSupportProblem } from "./devicecheck.js";

export const MEDIA_CONSTRAINTS = {
  audio: true,
  video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30, max: 30 } },
};

/**
 * Camera (640x480) and microphone. Rejects with an Error whose ``i18nKey`` ("media.denied",
 * "media.absent", "media.busy", "media.insecure", "media.in_app", "media.unsupported",
 * "media.failed") says in the page's language what the user can do; ``name`` is the browser's.
 */
export async function openLocalMedia() {
  const problem = mediaSupportProblem();
  if (problem) {
    const err = new Error(`camera and microphone unavailable (${problem})`);
    err.name = "MediaUnsupported";
    err.i18nKey = problem;
    throw err;
  }
  try {
    return await navigator.mediaDevices.getUserMedia(MEDIA_CONSTRAINTS);
  } catch (err) {
    const wrapped = new Error((err && err.message) || String(err));
    wrapped.name = (err && err.name) || "Error";
    wrapped.i18nKey = mediaErrorKey(err);
    throw wrapped;
  }
}
