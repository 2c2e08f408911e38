// The customer's first request on a join link, shared by the join and self-service pages.

import { ApiError, firstLoad, get, post } from "./api.js";
import { showOnly } from "./ui.js";

/** The session's details behind the link at base, or null once the page has said why not:
 * onEnded() for an ended session, else fail(err). Where trying again may help (a weak phone
 * network, a proxy's 502) api.firstLoad says so with 重试 and asks again until it gets an
 * answer (a link opened from a chat is not always easy to reopen); an expired link stays
 * expired and gets no 重试. */
export async function loadJoinInfo(base, views, onEnded, fail) {
  try {
    return await firstLoad(async () => {
      showOnly(views, "view-loading");
      try {
        return await get(base);
      } catch (err) {
        showOnly(views, null);
        throw err;
      }
    });
  } catch (err) {
    // An ended session's link no longer says who called or why (410 session_ended).
    if (err instanceof ApiError && err.code === "session_ended") onEnded();
    else fail(err);
    return null;
  }
}

/** Answers that say the link is dead for good (revoked, expired, or its salesperson may no
 * longer record): every further request with it would be refused the same way. */
export const LINK_GONE = ["token_revoked", "token_expired", "salesperson_disabled", "salesperson_not_qualified"];

/** get/post for a customer page and its call: an answer in LINK_GONE calls onGone(err)
 * first (the page stops and says why), 409/410 session_ended calls onEnded() (the page stops
 * and shows its ended view), then the request fails as before. Once isStopped() nothing more
 * is sent: a loop still running (a step waiting for its playback) fails at once instead. */
export function linkRequests(onGone, onEnded = () => {}, isStopped = () => false) {
  const check = (err) => {
    if (err instanceof ApiError && LINK_GONE.includes(err.code)) onGone(err);
    else if (err instanceof ApiError && err.code === "session_ended") onEnded();
    throw err;
  };
  const send = async (request) => {
    if (isStopped()) {
      const err = new Error("the page has stopped");
      err.name = "PageStopped";
      throw err;
    }
    return request().catch(check);
  };
  return {
    get: (path, options) => send(() => get(path, options)),
    post: (path, body, options) => send(() => post(path, body, options)),
  };
}
