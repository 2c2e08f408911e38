// Salesperson's call page: a play button under the teleprompter for steps that have a
// recorded voice (the server plays it to both parties and records it as the system track).
// Self-contained so call.js stays as it is: it follows the session state by polling.

import { get, post, showError } from "./api.js";
import { setText } from "./i18n.js";
import "./playback_i18n.js";
import { $, el, poll, entryLoaded } from "./ui.js";

const sessionId = decodeURIComponent(location.pathname.split("/").pop());
const base = `/api/sessions/${encodeURIComponent(sessionId)}`;
const state = { script: [], current: null, playback: { playing: false } };

const box = el("div", { class: "btn-row", id: "playback-box" });
const button = el("button", { type: "button", class: "btn", id: "play-node" });
const status = el("p", { class: "node-pos", id: "playback-status" });
box.append(button, status);

function render() {
  const node = state.script.find((n) => n.id === state.current);
  const pb = state.playback || {};
  box.hidden = !node;
  if (!node) return;
  const secs = Math.round(node.playback_s || 0);
  if (!node.playback) {
    button.hidden = true;
    setText(status, "pb.none");
    return;
  }
  button.hidden = false;
  const mine = pb.node === node.id;
  button.disabled = Boolean(pb.playing);
  if (mine && pb.playing) {
    const t = Math.min(pb.duration_s || 0, (Date.now() - Date.parse(pb.started_at)) / 1000);
    setText(button, "pb.playing", { t: Math.max(0, Math.round(t)), s: Math.round(pb.duration_s || 0) });
    status.textContent = "";
  } else {
    setText(button, "pb.play", { s: secs || "…" });
    if (mine && pb.complete === true) setText(status, "pb.done");
    else if (mine && pb.complete === false) setText(status, "pb.stopped");
    else status.textContent = "";
  }
}

async function refresh() {
  const data = await get(`${base}/state`);
  state.current = data.current_node;
  state.playback = data.playback || { playing: false };
  render();
}

async function play() {
  button.disabled = true;
  try {
    const { playback } = await post(`${base}/playback`, { node: state.current });
    state.playback = playback;
    showError($("#page-error"), null);
  } catch (err) {
    showError($("#page-error"), err);
  }
  render();
}

async function main() {
  const data = await get(base);
  state.script = data.script;
  if (!state.script.some((n) => n.playback)) return; // nothing to play in this script
  $("#node-tags").after(box);
  button.addEventListener("click", play);
  // The teleprompter buttons change the node: follow at once rather than at the next poll.
  for (const id of ["#next-node", "#prev-node"]) $(id).addEventListener("click", () => setTimeout(() => refresh().catch(() => {}), 300));
  document.addEventListener("kesu:lang", render);
  await refresh();
  poll(refresh, 1000, () => {});
}

main().catch(() => {});
entryLoaded("playback_ui.js");
