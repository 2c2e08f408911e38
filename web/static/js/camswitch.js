// 切换摄像头 on a phone with a front and a back camera (to show an ID card with the back one,
// then the face again), shown only when the browser lists more than one camera. The other
// camera's track takes the old one's place in the sender (RTCRtpSender.replaceTrack): no new
// offer, the same connection, and the microphone's track is never touched, so the recording
// of the voice goes on. Before, the customer could only turn the phone round.

// Its strings (cam.*) are in i18n.js: the pages' button is labelled before this loads.
import { MEDIA_CONSTRAINTS } from "./localmedia.js";

// A phone that opens one camera at a time refuses the second while the first is open.
const BUSY = new Set(["NotReadableError", "AbortError", "TrackStartError"]);
const OVERCONSTRAINED = new Set(["OverconstrainedError", "ConstraintNotSatisfiedError"]);

async function cameras() {
  try {
    return (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
  } catch {
    return []; // no enumerateDevices: no switch
  }
}

/** The camera `deviceId` alone (no sound), at the call's size, else at any size. */
async function openCamera(deviceId) {
  const exact = { deviceId: { exact: deviceId } };
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: false, video: { ...MEDIA_CONSTRAINTS.video, ...exact } });
  } catch (err) {
    if (!err || !OVERCONSTRAINED.has(err.name)) throw err;
    return navigator.mediaDevices.getUserMedia({ audio: false, video: exact });
  }
}

/** The other camera's track, the current one stopped first where the phone needs that. */
async function openOther(deviceId, old) {
  try {
    return (await openCamera(deviceId)).getVideoTracks()[0];
  } catch (err) {
    if (!err || !BUSY.has(err.name) || !old) throw err;
    old.stop(); // our own stop: the call takes no "ended" from it
    return (await openCamera(deviceId)).getVideoTracks()[0];
  }
}

/** `err` as the page shows it: the i18n key `key` with err's message. */
function switchError(err, key) {
  const failed = new Error((err && err.message) || String(err));
  failed.name = (err && err.name) || "Error";
  failed.i18nKey = key;
  return failed;
}

/**
 * Show `button` while more than one camera is listed; a press sends the next camera in
 * `call` (a MediaCall) and shows it in `preview`. `onError(err)` when the switch failed.
 */
export function mountCameraSwitch({ call, button, preview, onError }) {
  // The camera opened last and its track (getSettings().deviceId may be missing, or name
  // another id than the one asked for); a track the call opened itself has its own.
  let chosen = { id: null, track: null };
  let busy = false;
  let closed = false;
  const refresh = async () => {
    const list = await cameras();
    button.hidden = closed || list.length < 2;
    return list;
  };

  /** Send `track` (camera `deviceId`) in the call's `stream` instead of `old`, in the same
   * connection, and show it; stopped unused when the call ended or opened its devices again
   * meanwhile. */
  async function put(stream, old, track, deviceId) {
    if (call.closed || call.stream !== stream) {
      track.stop();
      return;
    }
    const sender = call.pc && call.pc.getSenders().find((s) => s.track && s.track.kind === "video");
    try {
      if (sender) await sender.replaceTrack(track);
    } catch (err) {
      track.stop();
      throw err;
    }
    if (old) stream.removeTrack(old);
    stream.addTrack(track);
    call.watchTrack(track);
    if (old) old.stop(); // our own stop: the call takes no "ended" from it
    chosen = { id: deviceId, track };
    preview.srcObject = null; // the same stream with another track: shown anew
    preview.srcObject = stream;
  }

  /** The switch failed (`err`): the camera the call had is sent again if it was stopped for
   * the other one, in the same connection. Returns the error to show: that the call goes on
   * with the camera it had, or (that camera not opening again either) only that the switch
   * failed, the devices then opened again as after a lost one (a new connection). Before,
   * the stopped camera always took a new connection, and the message said only "try again". */
  async function putBack(stream, old, deviceId, err) {
    if (old && old.readyState === "live") return switchError(err, "cam.kept");
    if (!old || call.closed) return switchError(err, "cam.failed");
    try {
      if (!deviceId) throw err;
      await put(stream, old, (await openCamera(deviceId)).getVideoTracks()[0], deviceId);
      return switchError(err, "cam.kept");
    } catch {
      if (!call.closed) call.rejoin().catch(() => {});
      return switchError(err, "cam.failed");
    }
  }

  async function switchCamera() {
    const list = await refresh();
    const stream = call.stream;
    const old = stream.getVideoTracks()[0];
    if (list.length < 2 || call.closed) return;
    const settings = old && typeof old.getSettings === "function" ? old.getSettings() : {};
    const current = old && old === chosen.track ? chosen.id : settings.deviceId;
    const at = list.findIndex((d) => d.deviceId === current);
    const next = list[at < 0 ? 1 : (at + 1) % list.length];
    try {
      await put(stream, old, await openOther(next.deviceId, old), next.deviceId);
    } catch (err) {
      throw await putBack(stream, old, current, err);
    }
  }

  const onClick = () => {
    if (busy) return;
    busy = true;
    button.disabled = true;
    switchCamera()
      .catch((err) => onError(err && err.i18nKey ? err : switchError(err, "cam.failed")))
      .finally(() => {
        busy = false;
        button.disabled = false;
      });
  };
  button.addEventListener("click", onClick);
  const devices = navigator.mediaDevices;
  if (devices && typeof devices.addEventListener === "function") devices.addEventListener("devicechange", refresh);
  refresh();
  return {
    close() {
      closed = true;
      button.hidden = true;
      button.removeEventListener("click", onClick);
      if (devices && typeof devices.removeEventListener === "function") devices.removeEventListener("devicechange", refresh);
    },
  };
}
