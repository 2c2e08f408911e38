// One step of the self-service script (selfservice.js): played by the server or read aloud by
// the customer, then a still of a document taken from the customer's own camera and read by the
// server, and the customer's spoken answer heard and classified by the server, each asked again
// when unclear.

import { showError } from "./api.js";
import { setText } from "./i18n.js";
import { startLevelMeter } from "./devicecheck.js";
import { pressed } from "./tapguard.js";
import { $ } from "./ui.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function status(key, vars = {}, cls = "") {
  const box = $("#step-status");
  box.className = `notice ${cls}`;
  box.hidden = false;
  setText(box, key, vars);
}

async function playNode(ctx, node) {
  status("ss.listen");
  for (let attempt = 0; attempt < 2; attempt++) {
    await ctx.post(`${ctx.base}/playback`, { node: node.id });
    for (;;) {
      await sleep(400);
      const pb = (await ctx.get(`${ctx.base}/state`)).playback || {};
      if (pb.node === node.id && !pb.playing) {
        if (pb.complete) return true;
        break; // cut short (e.g. a reconnect): play it again once
      }
    }
  }
  status("pb.stopped", {}, "warn");
  return false;
}

function snapshot() {
  const video = $("#local-video");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth || 640;
  canvas.height = video.videoHeight || 480;
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", 0.85);
}

async function captureDocument(ctx, node) {
  status(`ss.doc.${node.document}`);
  for (let tries = 1; ; tries++) {
    await pressed($("#ss-capture"));
    status("ss.doc.reading");
    const read = await ctx.post(`${ctx.base}/document`, { node: node.id, image: snapshot() });
    if (read.ok) {
      if (node.document === "id_card") status("ss.doc.ok_card", { name: read.name || "", number: read.id_number || "" }, "ok");
      else status("ss.doc.ok_page", {}, "ok");
      await sleep(1200);
      return;
    }
    status("ss.doc.retry", {}, "warn");
    if (tries >= 3) {
      // Never stuck: after three tries the customer may go on (the reviewer sees the video).
      await Promise.race([pressed($("#ss-next")), captureDocument(ctx, node)]);
      return;
    }
  }
}

async function hearAnswer(ctx, node) {
  const attempts = ctx.state.info.answer_attempts || 3;
  const listenMs = (ctx.state.info.listen_s || 5) * 1000;
  const meter = $("#ss-meter");
  for (let attempt = 1; attempt <= attempts; attempt++) {
    status("ss.answer_now", { hint: node.expected_answer || "是的" });
    meter.hidden = false;
    const stop = startLevelMeter(ctx.state.stream, (level) => (meter.firstElementChild.style.width = `${level}%`));
    await sleep(listenMs);
    stop();
    meter.hidden = true;
    status("ss.checking");
    let heard;
    try {
      heard = await ctx.post(`${ctx.base}/answer`, { node: node.id, attempt });
      showError($("#page-error"), null);
    } catch (err) {
      if (ctx.state.gone) throw err; // not a blip: nothing more will be heard
      ctx.fail(err); // e.g. a network blip: ask again rather than stop the recording
      heard = { kind: "missing", retry: attempt < attempts, review: attempt >= attempts };
    }
    if (heard.kind === "affirmative") status("ss.answer.affirmative", { text: heard.text }, "ok");
    else if (heard.kind === "negative") status("ss.answer.negative", { text: heard.text }, "warn");
    else if (heard.review) status("ss.answer.review", {}, "warn");
    else status("ss.answer.unclear", {}, "warn");
    await sleep(1500);
    if (!heard.retry) return heard;
  }
  return null;
}

/**
 * Run script step `node` (the i-th of n). ctx: {base (the link's API path), state (the page's:
 * info, stream, gone), get, post (the link's requests), fail (shows an error)}.
 */
export async function runStep(ctx, node, i, n) {
  setText($("#step-pos"), "ss.step", { i: i + 1, n });
  $("#step-title").textContent = node.title;
  $("#step-text").textContent = node.text;
  document.body.dataset.step = node.id;
  if (node.playback) await playNode(ctx, node);
  else {
    await ctx.post(`${ctx.base}/node`, { node: node.id });
    status("ss.read");
    await pressed($("#ss-next"));
  }
  if (node.document) await captureDocument(ctx, node);
  if (node.requires_answer) await hearAnswer(ctx, node);
}
