// The salesperson's "start the re-recording" button of a re-recording request, with its error
// line: shared by the session list's card (rerecord.js) and the findings page (findings.js).

import { post, showError } from "./api.js";
import { setText } from "./i18n.js";
import { el } from "./ui.js";

export function rerecordStart(requestId) {
  const error = el("div", { class: "alert", role: "alert", hidden: true });
  const button = el("button", { type: "button", class: "btn rerecord-start", i18n: ["rr.start"] });
  button.addEventListener("click", async () => {
    button.disabled = true;
    setText(button, "rr.starting");
    showError(error, null);
    try {
      const out = await post(`/api/rerecord-requests/${requestId}/start`);
      location.assign(`/sales/session/${encodeURIComponent(out.session.id)}`);
    } catch (err) {
      showError(error, err);
      button.disabled = false;
      setText(button, "rr.start");
    }
  });
  return [error, button];
}
