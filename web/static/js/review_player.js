// Plays the participants' recordings side by side on one session clock (the "same frame"
// view), or the combined review video. Each participant may have several segments (after a
// drop and rejoin); between segments that pane shows "no picture".

import { setText } from "./i18n.js";
import { el } from "./ui.js";

const DRIFT_S = 0.3; // a follower further than this from the clock is re-seeked

class Pane {
  constructor(source, player) {
    this.source = source;
    this.player = player;
    this.seg = undefined;
    this.pendingT = null;
    this.video = el("video", { preload: "auto", playsinline: true, dataset: { participant: source.key } });
    this.overlay = el("div", { class: "overlay", i18n: ["rs.no_media"] });
    this.label = el("span", { class: "label" });
    setText(this.label, source.labelKey);
    this.el = el("div", { class: "pane", dataset: { pane: source.key } }, this.video, this.label, this.overlay);
    this.video.addEventListener("loadedmetadata", () => {
      if (this.pendingT !== null) {
        this.video.currentTime = this.pendingT;
        this.pendingT = null;
      }
      this.video.playbackRate = player.rate;
    });
  }

  segmentAt(t) {
    return this.source.segments.find((s) => t >= s.start_s && t < s.end_s) || null;
  }

  active() {
    return Boolean(this.seg);
  }

  sync(t, playing, force, leader) {
    const seg = this.segmentAt(t);
    if (seg !== this.seg) {
      this.seg = seg;
      this.overlay.hidden = Boolean(seg);
      if (seg) {
        this.video.src = seg.url;
        this.pendingT = t - seg.start_s;
      } else {
        this.video.pause();
        this.video.removeAttribute("src");
        this.video.load();
      }
    }
    if (!seg) return;
    const local = t - seg.start_s;
    if (this.video.readyState >= 1) {
      if (force || (!leader && Math.abs(this.video.currentTime - local) > DRIFT_S)) this.video.currentTime = local;
    } else {
      this.pendingT = local;
    }
    if (this.video.playbackRate !== this.player.rate) this.video.playbackRate = this.player.rate;
    if (playing && this.video.paused && !this.video.ended) this.video.play().catch(() => {});
    if (!playing && !this.video.paused) this.video.pause();
  }
}

export class SyncPlayer {
  /** container: the element holding the panes; duration: seconds of the session timeline. */
  constructor(container, duration) {
    this.container = container;
    this.duration = duration;
    this.t = 0;
    this.rate = 1;
    this.playing = false;
    this.panes = [];
    this.listeners = [];
    this.last = 0;
    this.loop = this.loop.bind(this);
  }

  /** sources: [{key, labelKey, segments: [{url, start_s, end_s}]}] */
  setSources(sources) {
    for (const p of this.panes) p.video.pause();
    this.panes = sources.map((s) => new Pane(s, this));
    this.container.classList.toggle("single", sources.length === 1);
    this.container.replaceChildren(...this.panes.map((p) => p.el));
    for (const p of this.panes) p.sync(this.t, this.playing, true, false);
  }

  onTime(fn) {
    this.listeners.push(fn);
  }

  emit() {
    for (const fn of this.listeners) fn(this.t, this.playing);
  }

  play() {
    if (this.t >= this.duration - 0.05) this.seek(0);
    this.playing = true;
    this.last = performance.now();
    for (const p of this.panes) p.sync(this.t, true, false, false);
    requestAnimationFrame(this.loop);
    this.emit();
  }

  pause() {
    this.playing = false;
    for (const p of this.panes) p.sync(this.t, false, false, false);
    this.emit();
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  seek(t) {
    this.t = Math.max(0, Math.min(this.duration, t));
    for (const p of this.panes) p.sync(this.t, this.playing, true, false);
    this.emit();
  }

  setRate(rate) {
    this.rate = rate;
    for (const p of this.panes) p.video.playbackRate = rate;
  }

  loop(now) {
    if (!this.playing) return;
    const dt = Math.max(0, (now - this.last) / 1000);
    this.last = now;
    // The clock follows a playing video (smooth, with its audio); the others follow it. With
    // no video playing (a gap) the wall clock runs; while one is still loading it waits.
    const leader = this.panes.find((p) => p.active() && !p.video.paused && p.video.readyState >= 3 && !p.video.seeking);
    if (leader) this.t = leader.seg.start_s + leader.video.currentTime;
    else if (!this.panes.some((p) => p.active() && p.video.readyState < 3)) this.t += dt * this.rate;
    if (this.t >= this.duration) {
      this.t = this.duration;
      this.pause();
      return;
    }
    for (const p of this.panes) p.sync(this.t, true, false, p === leader);
    this.emit();
    requestAnimationFrame(this.loop);
  }
}
