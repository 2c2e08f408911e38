// The customer's device check: camera picture, microphone level, and an API round-trip.

const NETWORK_LIMIT_MS = 3000;

// In-app browsers (WeChat, QQ, Alipay, DingTalk, Weibo) that may lack camera access in WebRTC.
const IN_APP = /MicroMessenger|\bQQ\/|AlipayClient|DingTalk|Weibo/i;
// Any other app's built-in browser: an Android WebView ("; wv)"), an iOS WKWebView (no
// "Safari/" token, which Safari, Chrome and Firefox for iOS all have).
const WEBVIEW = /; wv\)|(iPhone|iPad|iPod).*AppleWebKit(?!.*Safari\/)/;

/** Whether the page runs in an app's built-in browser rather than the phone's own. */
export function inAppBrowser() {
  const ua = navigator.userAgent || "";
  return IN_APP.test(ua) || WEBVIEW.test(ua);
}

/**
 * Why this browser cannot take part in a call at all, before asking for anything: an i18n key
 * ("media.insecure", "media.in_app", "media.unsupported"), or null when it can try.
 */
export function mediaSupportProblem() {
  if (window.isSecureContext === false) return "media.insecure";
  const gum = navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  if (!gum || typeof window.RTCPeerConnection !== "function") {
    return IN_APP.test(navigator.userAgent || "") ? "media.in_app" : "media.unsupported";
  }
  return null;
}

/** The i18n key that explains a getUserMedia rejection to the customer. */
export function mediaErrorKey(err) {
  switch (err && err.name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      // An app's WebView refuses at once, without asking, when the app grants web pages no
      // camera: "allow it when the browser asks" then leads nowhere; the phone's browser does.
      return inAppBrowser() ? "media.denied_in_app" : "media.denied";
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return "media.absent";
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return "media.busy";
    default:
      return (err && err.i18nKey) || "media.failed";
  }
}

/** Resolve true once the video element shows a picture (or false after timeoutMs). */
export function waitForPicture(video, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const started = performance.now();
    (function check() {
      if (video.videoWidth > 0 && video.readyState >= 2) resolve(true);
      else if (performance.now() - started > timeoutMs) resolve(false);
      else requestAnimationFrame(check);
    })();
  });
}

/** Round-trip time (ms) of a GET to url, or null when it failed or took too long. */
export async function measureRoundTrip(url) {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NETWORK_LIMIT_MS);
  try {
    const response = await fetch(url, { cache: "no-store", signal: controller.signal });
    await response.text();
    return response.ok ? Math.round(performance.now() - started) : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A live microphone level meter: calls onLevel(0..100) about 20 times a second.
 * Returns stop(). The level is the RMS of the signal in dBFS mapped from -60..0 dB to 0..100.
 */
export function startLevelMeter(stream, onLevel) {
  const AudioCtx = window.AudioContext || window.webkitAudioContext;
  if (!AudioCtx || stream.getAudioTracks().length === 0) return () => {};
  // A browser may refuse an audio context (older Chromium and Safari cap how many may be
  // open; a WebView may have none working). The meter then stays still and the check goes on
  // on the microphone track alone: before, this threw, the device check stopped with a raw
  // error and 进入通话 stayed disabled; on the self-service page an answer step stopped.
  let ctx = null;
  let source;
  let analyser;
  try {
    ctx = new AudioCtx();
    source = ctx.createMediaStreamSource(stream);
    analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
  } catch {
    if (ctx) settle(ctx.close && ctx.close());
    return () => {};
  }
  settle(ctx.resume && ctx.resume());
  // getFloatTimeDomainData needs Safari 14.1 (iOS 14.5): iOS 14.0-14.4 (webkitAudioContext)
  // threw here 20 times a second and the meter never moved. Bytes (128 = silence) do there.
  const floats = typeof analyser.getFloatTimeDomainData === "function";
  const buf = floats ? new Float32Array(analyser.fftSize) : new Uint8Array(analyser.fftSize);
  const timer = setInterval(() => {
    if (floats) analyser.getFloatTimeDomainData(buf);
    else analyser.getByteTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) {
      const x = floats ? v : (v - 128) / 128;
      sum += x * x;
    }
    const rms = Math.sqrt(sum / buf.length);
    const db = rms > 0 ? 20 * Math.log10(rms) : -100;
    onLevel(Math.max(0, Math.min(100, Math.round(((db + 60) / 60) * 100))));
  }, 50);
  return () => {
    clearInterval(timer);
    source.disconnect();
    settle(ctx.close && ctx.close());
  };
}

/** Ignore how a promise ends (older webkitAudioContext methods return none). */
function settle(maybePromise) {
  if (maybePromise && typeof maybePromise.catch === "function") maybePromise.catch(() => {});
}
