// Keep the phone's screen on while the call records. A customer who listens to the salesperson
// (or reads a self-service step) touches nothing for minutes, and a phone locks its screen after
// 30 s to a few minutes: the page goes to the background, the phone pauses the camera, and
// that stretch of the recording has no picture (away.js says so afterwards). The Screen Wake
// Lock API (Chromium 84, Safari 16.4, Firefox 126) asks the phone to stay on; without it (older
// iOS, WeChat's WebView, older Firefox) or when it is refused (battery saver) the phone's own
// timeout applies as before. The browser drops the lock whenever the page is hidden: it is asked
// for again when the page is in front.

/** Hold a screen wake lock from the first time call (mediacall.MediaCall) connects until it
 * closes. */
export function keepScreenOn(call) {
  const wakeLock = navigator.wakeLock;
  if (!wakeLock || typeof wakeLock.request !== "function") return;
  let lock = null;
  let asking = false;

  const release = () => {
    const held = lock;
    lock = null;
    if (held) held.release().catch(() => {});
  };
  const acquire = async () => {
    const recorded = call.connectedAt || call.state === "connected"; // connected at least once
    if (lock || asking || call.closed || !recorded || document.visibilityState !== "visible") return;
    asking = true;
    try {
      const got = await wakeLock.request("screen");
      got.addEventListener("release", () => {
        if (lock === got) lock = null; // the browser let it go (page hidden)
      });
      lock = got;
      if (call.closed) release();
    } catch {
      // refused (battery saver, a permissions policy): the phone's own timeout applies
    } finally {
      asking = false;
    }
  };
  const onVisible = () => acquire();
  call.addEventListener("state", (e) => {
    if (e.detail === "connected") acquire();
    else if (e.detail === "closed") {
      release();
      document.removeEventListener("visibilitychange", onVisible);
    }
  });
  document.addEventListener("visibilitychange", onVisible);
}
