// A customer who leaves the page mid-recording (another app, the home screen, the screen
// locked): phones pause the camera of a page that is not in front (Android Chrome, iOS
// Safari and WeChat), so the picture of that stretch is missing from the recording, and the
// page said nothing. When the page is in front again, say so (with 知道了), and have the call
// check its connection at once instead of on its next heartbeat (timers of a hidden page are
// slowed or stopped).

/** Watch call (mediacall.MediaCall) for the page going to the background; box holds the notice
 * and a button (#away-ok) that hides it. Returns a function that stops watching. */
export function watchAway(call, box) {
  let away = false;
  const onChange = () => {
    if (call.closed || !call.connectedAt) return; // not recording yet, or over
    if (document.visibilityState === "hidden") {
      away = true;
      return;
    }
    if (!away) return;
    away = false;
    box.hidden = false;
    call.checkNow();
  };
  document.addEventListener("visibilitychange", onChange);
  box.querySelector("button").addEventListener("click", () => (box.hidden = true));
  return () => document.removeEventListener("visibilitychange", onChange);
}
