// Review statistics with plots drawn here as inline SVG (no chart library).

import { firstLoad, get, showError } from "./api.js";
import { t } from "./i18n.js";
import { codeLabel, startReviewerPage } from "./review_common.js";
import { $, el, entryLoaded } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
let last = null;

function s(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

function pctText(x) {
  return x === null || x === undefined ? t("st.none") : `${(x * 100).toFixed(1)}%`;
}

function kpi(key, value) {
  return el("div", { class: "kpi" }, el("div", { class: "v" }, value), el("div", { class: "k", i18n: [key] }));
}

function seconds(x) {
  return x === null || x === undefined ? t("st.none") : t("st.seconds", { n: Math.round(x) });
}

/** Grouped bars per day: recorded and first-reviewed. */
function perDayChart(days) {
  const W = 1000;
  const H = 240;
  const pad = { l: 40, r: 10, t: 10, b: 40 };
  const max = Math.max(1, ...days.map((d) => Math.max(d.recorded, d.reviewed)));
  const bw = (W - pad.l - pad.r) / Math.max(1, days.length);
  const y = (v) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("st.per_day") });
  const ticks = [...new Set([0, 1, 2, 3, 4].map((i) => Math.round((max * i) / 4)))];
  for (const v of ticks) {
    svg.append(s("line", { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), stroke: "#e5e7eb" }));
    svg.append(s("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 12, fill: "#444" }, String(v)));
  }
  days.forEach((d, i) => {
    const x = pad.l + i * bw;
    const w = Math.max(1, bw / 2 - 2);
    const bar = (v, dx, color, label) => {
      const r = s("rect", { x: x + dx, y: y(v), width: w, height: H - pad.b - y(v), fill: color });
      r.append(s("title", {}, `${d.day} ${label}: ${v}`));
      svg.append(r);
    };
    bar(d.recorded, 1, "#0a4ea8", t("st.recorded"));
    bar(d.reviewed, bw / 2, "#e2a23b", t("st.reviewed"));
    const every = Math.ceil(days.length / 12);
    if (days.length <= 16 || (days.length - 1 - i) % every === 0) {
      svg.append(s("text", { x: x + bw / 2, y: H - pad.b + 16, "text-anchor": "middle", "font-size": 11, fill: "#444" }, d.day.slice(5)));
    }
  });
  return svg;
}

/** Horizontal bars: precision per finding code, with the number judged. */
function precisionChart(rows) {
  const W = 1000;
  const rowH = 26;
  const left = 260;
  const H = Math.max(1, rows.length) * rowH + 10;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("st.precision") });
  rows.forEach((r, i) => {
    const yy = 5 + i * rowH;
    svg.append(s("text", { x: left - 8, y: yy + 16, "text-anchor": "end", "font-size": 13, fill: "#111" }, codeLabel(r.code)));
    svg.append(s("rect", { x: left, y: yy + 3, width: W - left - 120, height: rowH - 8, fill: "#eef1f5" }));
    if (r.precision !== null) {
      const color = r.precision >= 0.8 ? "#1e8e3e" : r.precision >= 0.5 ? "#e2a23b" : "#b3261e";
      const bar = s("rect", { x: left, y: yy + 3, width: (W - left - 120) * r.precision, height: rowH - 8, fill: color });
      bar.append(s("title", {}, `${r.code}: ${r.confirmed}/${r.confirmed + r.dismissed}`));
      svg.append(bar);
    }
    svg.append(
      s("text", { x: W - 112, y: yy + 16, "font-size": 13, fill: "#111" }, `${pctText(r.precision)} (${r.confirmed}/${r.confirmed + r.dismissed})`),
    );
  });
  return svg;
}

function render(d) {
  last = d;
  $("#kpis").replaceChildren(
    kpi("st.sessions", String(d.sessions)),
    kpi("st.first_pass", pctText(d.first_pass_rate)),
    kpi("st.machine_pass", pctText(d.machine_pass_rate)),
    kpi("st.overturn", pctText(d.second_overturn_rate)),
    kpi("st.review_time", seconds(d.review_time.level1.average_s)),
    kpi("st.review_time2", seconds(d.review_time.level2.average_s)),
  );
  $("#per-day").replaceChildren(perDayChart(d.per_day));
  $("#precision").replaceChildren(precisionChart(d.per_code));
  $("#per-code tbody").replaceChildren(
    ...d.per_code.map((r) =>
      el(
        "tr",
        { dataset: { code: r.code } },
        el("td", {}, codeLabel(r.code)),
        el("td", {}, String(r.findings)),
        el("td", {}, String(r.confirmed)),
        el("td", {}, String(r.dismissed)),
        el("td", {}, String(r.open)),
        el("td", {}, pctText(r.precision)),
      ),
    ),
  );
  $("#p-from").value = d.period.from;
  $("#p-to").value = d.period.to;
}

async function fetchStats() {
  const params = new URLSearchParams({ tz: String(-new Date().getTimezoneOffset()) });
  if ($("#p-from").value) params.set("from", $("#p-from").value);
  if ($("#p-to").value) params.set("to", $("#p-to").value);
  render(await get(`/api/review/stats?${params}`));
}

async function load() {
  showError($("#page-error"), null);
  try {
    await fetchStats();
    $("#load-retry").hidden = true; // the first load's 重试 is no longer needed
  } catch (err) {
    showError($("#page-error"), err);
  }
}

async function main() {
  await firstLoad(startReviewerPage);
  $("#period").addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  $("#apply").disabled = false; // disabled in the HTML until this handler is on (docs/browsers.md)
  document.addEventListener("kesu:lang", () => last && render(last));
  await firstLoad(fetchStats); // 更新 says its own errors (load)
}

main().catch((err) => showError(document.getElementById("page-error"), err));
entryLoaded("review_stats.js");
