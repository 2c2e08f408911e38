// The strip under the videos: script steps, who speaks, each participant's face presence,
// recorded gaps and every finding as a marker. Click anywhere to seek; click a marker to
// jump to its finding.

import { t } from "./i18n.js";
import { clock } from "./review_i18n.js";
import { codeLabel } from "./review_common.js";
import { el, orElse } from "./ui.js";
import "./playback_i18n.js";

const PARTICIPANTS = ["salesperson", "customer"];

function pct(x, duration) {
  return `${Math.max(0, Math.min(100, (100 * x) / duration)).toFixed(3)}%`;
}

function span(cls, start, end, duration, title, text = "") {
  return el(
    "div",
    {
      class: `span ${cls}`,
      title,
      style: `left:${pct(start, duration)};width:${pct(Math.max(end - start, duration / 500), duration)}`,
    },
    text,
  );
}

/** Node spans: timed nodes from the report when present, else the teleprompter's events. */
export function nodeSpans(data) {
  const titles = Object.fromEntries(data.script.map((n) => [n.id, n.title]));
  const timed = data.nodes.filter((n) => n.start_s !== null && n.start_s !== undefined);
  if (timed.length) {
    return timed.map((n) => ({ id: n.id, title: n.title || titles[n.id] || n.id, start: n.start_s, end: orElse(n.end_s, n.start_s), covered: n.covered }));
  }
  const events = data.events.filter((e) => e.type === "node" && e.t_s !== null).sort((a, b) => a.t_s - b.t_s);
  return events.map((e, i) => ({
    id: e.node,
    title: titles[e.node] || e.node,
    start: e.t_s,
    end: i + 1 < events.length ? events[i + 1].t_s : data.duration_s,
    covered: true,
  }));
}

/** Recorded voice playbacks: playback_start … playback_end events of the system track. */
export function playbackSpans(events, duration) {
  const out = [];
  for (const e of events.filter((x) => x.type === "playback_start" && x.t_s !== null)) {
    const seg = (e.detail || {}).segment;
    const end = events.find((x) => x.type === "playback_end" && (x.detail || {}).segment === seg);
    out.push({ title: e.node, start: e.t_s, end: end ? end.t_s : duration, complete: Boolean(end && end.detail.complete) });
  }
  return out;
}

function row(labelKey, track) {
  return [el("div", { class: "row-label", i18n: [labelKey] }), track];
}

/** Build the strip in container; returns {setTime(t), mark(findingId)}. */
export function buildTimeline(container, data, onSeek, onFinding) {
  const duration = Math.max(data.duration_s || 0, 0.1);
  const rows = [];
  const track = (cls = "") => {
    const tr = el("div", { class: `track ${cls}` });
    tr.addEventListener("click", (e) => {
      const box = tr.getBoundingClientRect();
      onSeek(((e.clientX - box.left) / box.width) * duration);
    });
    return tr;
  };

  const nodes = track("nodes");
  nodeSpans(data).forEach((n, i) => {
    const cls = `node${i % 2 ? " alt" : ""}${n.covered === false ? " missing" : ""}`;
    nodes.append(span(cls, n.start, n.end, duration, `${n.title} ${clock(n.start)}`, n.title));
  });
  rows.push(row("rs.row.nodes", nodes));

  for (const who of PARTICIPANTS) {
    const tr = track();
    for (const line of data.transcript.filter((l) => l.participant === who)) {
      tr.append(span(`speech-${who}`, line.start_s, line.end_s, duration, `${clock(line.start_s)} ${line.text}`));
    }
    rows.push(row(`rs.row.speech.${who}`, tr));
  }
  for (const who of PARTICIPANTS) {
    const runs = (data.faces || {})[who] || [];
    if (!runs.length) continue;
    const tr = track();
    for (const r of runs) {
      const cls = r.faces === 0 ? "face-0" : r.faces === 1 ? "face-1" : "face-many";
      tr.append(span(cls, r.start_s, r.end_s, duration, `${clock(r.start_s)}–${clock(r.end_s)}: ${r.faces}`));
    }
    rows.push(row(`rs.row.faces.${who}`, tr));
  }
  const titles = Object.fromEntries(data.script.map((n) => [n.id, n.title]));
  const played = playbackSpans(data.events || [], data.duration_s).map((p) => ({ ...p, title: titles[p.title] || p.title }));
  if (played.length) {
    const tr = track("playback");
    for (const p of played) {
      const cls = `node${p.complete ? "" : " missing"}`;
      const note = p.complete ? "" : ` (${t("pb.incomplete")})`;
      tr.append(span(cls, p.start, p.end, duration, `${p.title} ${clock(p.start)}–${clock(p.end)}${note}`, p.title));
    }
    rows.push(row("rs.row.playback", tr));
  }
  if (data.gaps && data.gaps.length) {
    const tr = track();
    for (const g of data.gaps) {
      tr.append(span("gap", g.start_s, g.end_s, duration, `${t(`participant.${g.participant}`)} ${clock(g.start_s)}–${clock(g.end_s)}`));
    }
    rows.push(row("rs.row.gaps", tr));
  }

  const markers = track("findings");
  const byId = new Map();
  for (const f of data.findings) {
    if (f.start_s === null || f.start_s === undefined) continue;
    const end = orElse(f.end_s, f.start_s);
    const m = el("button", {
      type: "button",
      class: `marker ${f.severity}`,
      title: `${codeLabel(f.code)} ${clock(f.start_s)}`,
      "aria-label": `${codeLabel(f.code)} ${clock(f.start_s)}`,
      dataset: { findingId: String(f.id) },
      style: `left:${pct(f.start_s, duration)};width:${pct(end - f.start_s, duration)}`,
    });
    m.addEventListener("click", (e) => {
      e.stopPropagation();
      onFinding(f);
    });
    markers.append(m);
    byId.set(f.id, m);
  }
  rows.push(row("rs.row.findings", markers));

  // Explicit placement: the playhead layer spans every row of column 2, and auto-placed
  // items would flow around it instead of under it.
  rows.forEach(([label, tr], i) => {
    label.style.gridArea = `${i + 1} / 1`;
    tr.style.gridArea = `${i + 1} / 2`;
  });
  const head = el("div", { class: "playhead" });
  const layer = el("div", { class: "playhead-layer" }, head);
  layer.style.gridArea = `1 / 2 / ${rows.length + 1} / 3`;
  container.replaceChildren(...rows.flat(), layer);
  return {
    setTime(now) {
      head.style.left = pct(now, duration);
    },
    mark(findingId) {
      for (const [id, m] of byId) m.classList.toggle("active", id === findingId);
    },
  };
}
