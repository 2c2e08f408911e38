// A light request to the server every second while a call runs (mediacall.js): a killed or
// restarting server refuses it at once, a hung one lets it time out, and either way the call
// is shown as lost at once, whatever ICE still believes.

import { unreachable } from "./callfailures.js";

const HEARTBEAT_MS = 1000;
// A heartbeat waits 3x the slowest recent round trip (heartbeats and offers), at least 1.5 s:
// on a slow mobile link (2 s round trips on "Slow 3G") a fixed 1.5 s would take a live call
// for lost, show the banner and stop rejoining for good. A refused request fails at once.
const HEARTBEAT_TIMEOUT_MS = 1500;
const HEARTBEAT_MAX_TIMEOUT_MS = 8000;

export class Heartbeat {
  /**
   * ping: ({signal}) => Promise<boolean>, whether the server has this participant connected;
   * rejects when the server cannot be reached. wasUp(): whether the call has ever connected.
   * onLost(): the server cannot be reached. onBack(present): it answers again (present: the
   * ping's answer, null when it answered with an error).
   */
  constructor({ ping, wasUp, onLost, onBack }) {
    this._ping = ping;
    this._wasUp = wasUp;
    this._onLost = onLost;
    this._onBack = onBack;
    this._timer = null;
    this._stopped = false;
    this._rtts = []; // ms of the last few heartbeats and offers that were answered
    this.unreachable = false;
  }

  start() {
    if (!this._ping || this._timer) return;
    this._stopped = false;
    const beat = async () => {
      if (this._stopped) return;
      await this.beat();
      if (!this._stopped) this._timer = setTimeout(beat, HEARTBEAT_MS);
    };
    this._timer = setTimeout(beat, HEARTBEAT_MS);
  }

  stop() {
    this._stopped = true;
    clearTimeout(this._timer);
    this._timer = null;
  }

  /** Beat now (the page is in front again: its timers may have been stopped while it was
   * not, so the next heartbeat may be long due). */
  checkNow() {
    if (this._stopped || !this._timer) return;
    this.beat().catch(() => {});
  }

  sample(ms) {
    this._rtts.push(ms);
    if (this._rtts.length > 5) this._rtts.shift();
  }

  /** How long a heartbeat may take before the server counts as unreachable. */
  timeout() {
    const slowest = this._rtts.length ? Math.max(...this._rtts) : 0;
    return Math.min(HEARTBEAT_MAX_TIMEOUT_MS, Math.max(HEARTBEAT_TIMEOUT_MS, 3 * slowest));
  }

  async beat() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeout());
    const started = performance.now();
    let present = null;
    try {
      present = await this._ping({ signal: abort.signal });
      this.sample(performance.now() - started);
    } catch (err) {
      // A beat that only timed out before the first connection proves nothing (no round trip
      // measured yet, connect() in charge): it must not make the page rejoin mid-connect.
      const slowOnly = err && err.name === "AbortError" && !this._wasUp();
      if (unreachable(err) && !slowOnly) {
        this.unreachable = true;
        this._onLost();
        return;
      }
      present = null; // answered with an error: reachable; the page's own checks handle it
    } finally {
      clearTimeout(timer);
    }
    if (!this.unreachable || this._stopped) return;
    this.unreachable = false;
    this._onBack(present);
  }
}
