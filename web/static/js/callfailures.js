// How a call's requests and connections fail, for mediacall.js: which errors a retry cannot
// fix, which mean the server is out of reach, and the limits on waiting for an answer to an
// offer and for a connection to come up (a weak phone network otherwise leaves 连接中… for
// minutes).

const GATEWAY_DOWN = new Set([502, 503, 504]); // a proxy answering for a server that is gone
// A connection that has not come up this long after the answer never will: no candidate pair
// works (UDP blocked on a company or hotel Wi-Fi and no TURN, a carrier's NAT). Chromium leaves
// such a connection "connecting" for ever (without candidates it never fails), and the server
// drops a participant without media after 20 s (RtcSettings.connect_timeout_s).
export const CONNECT_TIMEOUT_MS = 20000;
// An offer without an answer this long is given up (its error says the network is too slow): a
// stalled phone network holds a POST for minutes, and the page said 连接中… all that time.
// Generous: on "Slow 3G" an offer is answered in 2-4 s.
const OFFER_TIMEOUT_MS = 30000;

/** Client errors other than "busy"/"full" will not heal by retrying. */
export function isFatal(err) {
  const status = err && err.status;
  return Boolean(status && status >= 400 && status < 500 && status !== 409 && status !== 429)
    || (err && (err.code === "session_ended" || err.code === "consent_required"));
}

/** No answer at all (refused, reset, timed out), or a gateway saying the server is gone. */
export function unreachable(err) {
  return !err || err.name === "AbortError" || !err.status || GATEWAY_DOWN.has(err.status);
}

/** offer(sdp, {signal})'s answer; rejects with an "error.timeout" error (the page's 网络太慢，
 * 请求超时…) after OFFER_TIMEOUT_MS. */
export async function answerInTime(offer, sdp) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), OFFER_TIMEOUT_MS);
  try {
    return await offer(sdp, { signal: abort.signal });
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    const late = new Error("the offer got no answer in time");
    late.name = "OfferTimeout";
    late.i18nKey = "error.timeout";
    throw late;
  } finally {
    clearTimeout(timer);
  }
}
