// One RTCPeerConnection to the Kesu server (with the STUN/TURN servers and fresh TURN
// credentials the caller fetches, none when the server is reachable directly), camera +
// microphone sent, the other participant's media received from the server's relay. Signalling
// is non-trickle: wait until ICE gathering is complete, POST the whole offer, apply the answer.
// A failed connection is rejoined automatically with back-off.
//
// A lost connection is shown at once ("interrupted": the server is not recording us): the ICE
// state going "disconnected"/"failed", or a light heartbeat to the server failing (a killed or
// restarting server refuses it at once, a hung one times out). While the server cannot be
// reached no rejoin attempt is spent; the first answer after that rejoins at once (a restarted
// server no longer has our connection).

import { answerInTime, CONNECT_TIMEOUT_MS, isFatal, unreachable } from "./callfailures.js";
import { waitIceGathering } from "./ice.js";

const DISCONNECTED_GRACE_MS = 4000; // "disconnected" often heals by itself within a few seconds
const BACKOFF_MS = [1000, 2000, 4000, 8000, 10000];
const SERVER_LOST_GRACE_MS = 5000; // a state poll sent before we connected may still say "absent"
const HEARTBEAT_MS = 1000;
// A heartbeat waits 3x the slowest recent round trip (heartbeats and offers), at least 1.5 s:
// on a slow mobile link (2 s round trips on "Slow 3G") a fixed 1.5 s would take a live call
// for lost, show the banner and stop rejoining for good. A refused request fails at once.
const HEARTBEAT_TIMEOUT_MS = 1500;
const HEARTBEAT_MAX_TIMEOUT_MS = 8000;

/**
 * One participant's media connection, reconnecting by itself.
 * Events: "state" (detail: RTCPeerConnectionState, "reconnecting" or "interrupted"), "track"
 * (detail: MediaStream of the other participant), "rejoin" (detail: attempt number), "giveup"
 * (detail: last error), "fatal" (detail: error that retrying cannot fix), "interrupted"
 * (detail: true when the connection was lost, false once connected again), "noroute" (a new
 * connection did not come up: the network lets no media through; tried again at once, each
 * try counted as a rejoin attempt).
 */
export class MediaCall {
  constructor({
    stream, offer, leave, ping = null, iceServers = async () => [], autoRejoin = true, maxAttempts = 8,
    reopenMedia = null,
  }) {
    // Not an EventTarget subclass: `new EventTarget()` needs Safari 14, and customers' phones
    // may be older. Listeners get {type, detail}, like a CustomEvent.
    this._listeners = {};
    this._iceServers = iceServers; // () => Promise<RTCIceServer[]>, asked before each connection
    this.stream = stream;
    this._offer = offer; // (sdp, {signal}) => Promise<{type: "answer", sdp}>
    this._leave = leave; // ({keepalive}) => Promise
    // ({signal}) => Promise<boolean>: whether the server has this participant connected;
    // rejects when the server cannot be reached.
    this._ping = ping;
    this.autoRejoin = autoRejoin;
    this.maxAttempts = maxAttempts;
    this.pc = null;
    this.remoteStream = null;
    this.state = "new";
    this.attempt = 0;
    this.connectedAt = 0;
    this.closed = false;
    this._timer = null;
    this._connectTimer = null; // gives up on a connection that does not come up
    this._connecting = null;
    this.interrupted = false;
    this.serverUnreachable = false;
    this._heartbeat = null;
    this._rtts = []; // ms of the last few heartbeats and offers that were answered
    this._onPageHide = () => this.close({ notify: true, keepalive: true });
    // () => Promise<MediaStream>: the camera and microphone again, after one of them ended
    // mid-call (unplugged, taken by another app, the phone's call): see _watchTracks.
    this._reopenMedia = reopenMedia;
    this._watchTracks();
  }

  /** A camera or microphone that ends mid-call (unplugged, a Bluetooth headset gone, taken by
   * another app) sends nothing more, and the page said nothing: the other party saw a frozen
   * picture and the recording went on with voice alone. Say so ("devicelost") and rejoin
   * with the devices opened again; while they cannot be opened the old connection stays and
   * the rejoin is retried with back-off (a device plugged back in is taken up). `tracks`:
   * those put into this.stream later (the other camera, camswitch.js). */
  _watchTracks(tracks = this.stream.getTracks()) {
    const stream = this.stream;
    for (const track of tracks) {
      track.addEventListener("ended", () => {
        // our own stop, an old stream, or a camera switched away from (camswitch.js)
        if (this.closed || stream !== this.stream || !stream.getTracks().includes(track)) return;
        this._emit("devicelost", track.kind);
        if (this._reopenMedia) {
          this.attempt = 0;
          this._scheduleRejoin(0, true);
        }
      });
    }
  }

  /** Watch a track put into this.stream later (the other camera, camswitch.js). */
  watchTrack(track) {
    this._watchTracks([track]);
  }

  _deviceGone() {
    return Boolean(this._reopenMedia) && this.stream.getTracks().some((t) => t.readyState !== "live");
  }

  /** Open the devices again when one of this.stream's tracks has ended; throws (leaving the
   * current connection as it is) while they cannot be opened. */
  async _freshMedia() {
    if (!this._deviceGone()) return;
    const fresh = await this._reopenMedia();
    const old = this.stream;
    this.stream = fresh;
    for (const track of old.getTracks()) track.stop();
    this._watchTracks();
    this._emit("stream", fresh);
  }

  addEventListener(type, fn) {
    (this._listeners[type] = this._listeners[type] || []).push(fn);
  }

  removeEventListener(type, fn) {
    this._listeners[type] = (this._listeners[type] || []).filter((f) => f !== fn);
  }

  _emit(type, detail) {
    for (const fn of (this._listeners[type] || []).slice()) {
      try {
        fn({ type, detail });
      } catch (err) {
        setTimeout(() => {
          throw err; // reported like a listener error of a real EventTarget, without stopping the others
        });
      }
    }
  }

  _setState(state) {
    this.state = state;
    this._emit("state", state);
  }

  /** The call was live and is not any more: say so now, whatever ICE still believes. */
  _interrupt() {
    if (this.closed || this.interrupted || !this.connectedAt) return;
    this.interrupted = true;
    this._setState("interrupted");
    this._emit("interrupted", true);
  }

  _resumed() {
    if (!this.interrupted) return;
    this.interrupted = false;
    this._emit("interrupted", false);
  }

  _startHeartbeat() {
    if (!this._ping || this._heartbeat) return;
    const beat = async () => {
      if (this.closed) return;
      await this._beat();
      if (!this.closed) this._heartbeat = setTimeout(beat, HEARTBEAT_MS);
    };
    this._heartbeat = setTimeout(beat, HEARTBEAT_MS);
  }

  /** Check the connection now (the page is in front again: its timers may have been
   * stopped while it was not, so the next heartbeat may be long due). */
  checkNow() {
    if (this.closed || !this._heartbeat) return;
    this._beat().catch(() => {});
  }

  _sampleRtt(ms) {
    this._rtts.push(ms);
    if (this._rtts.length > 5) this._rtts.shift();
  }

  /** How long a heartbeat may take before the server counts as unreachable. */
  beatTimeout() {
    const slowest = this._rtts.length ? Math.max(...this._rtts) : 0;
    return Math.min(HEARTBEAT_MAX_TIMEOUT_MS, Math.max(HEARTBEAT_TIMEOUT_MS, 3 * slowest));
  }

  async _beat() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.beatTimeout());
    const started = performance.now();
    let present = null;
    try {
      present = await this._ping({ signal: abort.signal });
      this._sampleRtt(performance.now() - started);
    } catch (err) {
      // A beat that only timed out before the first connection proves nothing (no round trip
      // measured yet, connect() in charge): it must not make the page rejoin mid-connect.
      const slowOnly = err && err.name === "AbortError" && !this.connectedAt;
      if (unreachable(err) && !slowOnly) {
        this.serverUnreachable = true;
        this._interrupt();
        return;
      }
      present = null; // answered with an error: reachable; the page's own checks handle it
    } finally {
      clearTimeout(timer);
    }
    if (!this.serverUnreachable || this.closed) return;
    this.serverUnreachable = false;
    // Back after an outage. A restarted server has lost our connection: rejoin now.
    const pcUp = this.pc && this.pc.connectionState === "connected";
    if (present === true && pcUp) {
      this._setState("connected");
      this._resumed();
    } else if (!this._connecting) {
      this.attempt = 0;
      this._scheduleRejoin(0, true);
    }
  }

  /** Open a new peer connection and exchange offer/answer. Throws the API error on refusal. */
  async connect() {
    if (this._connecting) return this._connecting;
    this._connecting = this._connect().finally(() => {
      this._connecting = null;
    });
    return this._connecting;
  }

  async _connect() {
    this._dropPc();
    this.closed = false;
    // A closed or navigated-away page is noticed by the server at once, not after ICE timeout.
    window.addEventListener("pagehide", this._onPageHide);
    this._startHeartbeat();
    const asked = performance.now();
    const iceServers = await this._iceServers().catch(() => []);
    this._sampleRtt(performance.now() - asked);
    if (this.closed) return;
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    const remote = new MediaStream();
    this.remoteStream = remote;
    for (const track of this.stream.getTracks()) pc.addTrack(track, this.stream);
    pc.addEventListener("track", (ev) => {
      if (pc !== this.pc) return;
      if (!remote.getTracks().includes(ev.track)) remote.addTrack(ev.track);
      this._emit("track", remote);
    });
    pc.addEventListener("connectionstatechange", () => this._onPcState(pc));
    this._setState("connecting");
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await waitIceGathering(pc);
      if (pc !== this.pc) return;
      const sent = performance.now();
      const answer = await answerInTime(this._offer, pc.localDescription.sdp);
      this._sampleRtt(performance.now() - sent); // an upper bound: the server gathers too
      if (pc !== this.pc) return;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
      clearTimeout(this._connectTimer);
      this._connectTimer = setTimeout(() => {
        if (pc === this.pc && !this.closed && pc.connectionState !== "connected") this._noRoute(pc);
      }, CONNECT_TIMEOUT_MS);
    } catch (err) {
      if (pc === this.pc) {
        pc.close();
        this.pc = null;
        this._setState("failed");
      }
      throw err;
    }
  }

  /** pc never came up: say so, and rejoin (back-off) as for a connection that failed. */
  _noRoute(pc) {
    clearTimeout(this._connectTimer);
    this._dropPc();
    this._emit("noroute", pc);
    this._setState("failed");
    this._interrupt();
    this._scheduleRejoin(0);
  }

  _onPcState(pc) {
    if (pc !== this.pc || this.closed) return;
    const state = pc.connectionState;
    if (state === "failed" && !pc.kesuUp) {
      this._noRoute(pc); // failed before it ever came up (Firefox, Safari give up on their own)
      return;
    }
    this._setState(state);
    clearTimeout(this._timer);
    if (state === "connected") {
      pc.kesuUp = true;
      clearTimeout(this._connectTimer);
      this.attempt = 0;
      this.connectedAt = performance.now();
      this._resumed();
    } else if (state === "failed" || state === "closed") {
      // "closed" here came from the far end (our own close() does not fire the event).
      this._interrupt();
      this._scheduleRejoin(0);
    } else if (state === "disconnected") {
      this._interrupt();
      this._scheduleRejoin(DISCONNECTED_GRACE_MS);
    }
  }

  _scheduleRejoin(delay, force = false) {
    if (!this.autoRejoin || this.closed) return;
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._rejoinLoop(force), delay);
  }

  async _rejoinLoop(force = false) {
    // force: the server says we are gone even though our side still looks connected; so does
    // a device that ended (the retries after the first attempt are not forced).
    const up = this.pc && this.pc.connectionState === "connected" && !this._deviceGone();
    if (this.closed || (!force && up)) return;
    // Unreachable server: spend no attempt; the heartbeat rejoins as soon as it answers.
    if (this.serverUnreachable) return;
    if (this.attempt >= this.maxAttempts) {
      this._emit("giveup", null);
      return;
    }
    this.attempt += 1;
    this._emit("rejoin", this.attempt);
    this._setState("reconnecting");
    try {
      await this.rejoin();
    } catch (err) {
      if (isFatal(err)) {
        this._emit("fatal", err);
        return;
      }
      const wait = BACKOFF_MS[Math.min(this.attempt - 1, BACKOFF_MS.length - 1)];
      if (this.attempt >= this.maxAttempts) this._emit("giveup", err);
      else this._scheduleRejoin(wait);
    }
  }

  /** Leave the server side of the old connection (it may still think we are there), connect again. */
  async rejoin() {
    await this._freshMedia();
    this._dropPc();
    try {
      await this._leave({ keepalive: false });
    } catch {
      // the server may already have noticed the drop; the new offer decides
    }
    await this.connect();
  }

  /**
   * The server reports that it no longer has this participant (e.g. it dropped the connection)
   * while the browser may still believe it is connected: rejoin now instead of waiting for ICE
   * to time out. Ignored while connecting and just after connecting (the report may be stale).
   */
  serverLost() {
    if (this.closed || this._connecting || !this.pc || this.state !== "connected") return;
    if (performance.now() - (this.connectedAt || 0) < SERVER_LOST_GRACE_MS) return;
    this._interrupt();
    this._scheduleRejoin(0, true);
  }

  /** Manual reconnect (button): restarts the attempt counter. */
  async reconnect() {
    clearTimeout(this._timer);
    this.attempt = 0;
    this._setState("reconnecting");
    await this.rejoin();
  }

  _dropPc() {
    clearTimeout(this._connectTimer);
    if (this.pc) {
      const pc = this.pc;
      this.pc = null;
      pc.close();
    }
  }

  /** Stop for good: close the connection and, if notify, tell the server we left. */
  close({ notify = false, keepalive = false } = {}) {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this._timer);
    clearTimeout(this._heartbeat);
    this._heartbeat = null;
    this._resumed();
    const hadPc = Boolean(this.pc);
    this._dropPc();
    window.removeEventListener("pagehide", this._onPageHide);
    this._setState("closed");
    if (notify && hadPc) this._leave({ keepalive }).catch(() => {});
  }

  /** Stop the camera and microphone too. */
  stopMedia() {
    for (const track of this.stream.getTracks()) track.stop();
  }
}
