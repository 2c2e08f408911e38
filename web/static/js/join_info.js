// The customer's first request on a join link, shared by the join and self-service pages.

import { ApiError, get, retryable, showError } from "./api.js";
import { $, showOnly } from "./ui.js";

/** The session's details behind the link at base, or null once the page has said why not:
 * onEnded() for an ended session, else fail(err) with 重试 where trying again may help. */
export async function loadJoinInfo(base, views, onEnded, fail) {
  $("#load-retry").hidden = true;
  showError($("#page-error"), null);
  showOnly(views, "view-loading");
  try {
    return await get(base);
  } catch (err) {
    // An ended session's link no longer says who called or why (410 session_ended).
    if (err instanceof ApiError && err.code === "session_ended") {
      onEnded();
      return null;
    }
    // A weak phone network, a proxy's 502: say so and let the customer try again here
    // (a link opened from a chat is not always easy to reopen).
    showOnly(views, null);
    fail(err);
    $("#load-retry").hidden = !retryable(err); // an expired link stays expired
    return null;
  }
}
