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

import { answerInTime, CONNECT_TIMEOUT_MS, isFatal } from "./callfailures.js";
import { Emitter } from "./emitter.js";
import { Heartbeat } from "./heartbeat.js";
import { waitIceGathering } from "./ice.js";

const DISCONNECTED_GRACE_MS = 4000; // "disconnected" often heals by itself within a few seconds
const BACKOFF_MS = [1000, 2000, 4000, 8000, 10000];
const SERVER_LOST_GRACE_MS = 5000; // a state poll sent before we connected may still say "absent"

/**
 * One participant's media connection, reconnecting by itself.
 * Events: "state" (detail: RTCPeerConnectionState, "reconnecting" or "interrupted"), "track"
 * (detail: MediaStream of the other participant), "rejoin" (detail: attempt number), "giveup"
 * (detail: last error), "fatal" (detail: error that retrying cannot fix), "interrupted"
 * (detail: true when the connection was lost, false once connected again), "noroute" (a new
 * connection did not come up: the network lets no media through; tried again at once, each
 * try counted as a rejoin attempt).
 */
export class MediaCall extends Emitter {
  constructor({
    stream, offer, leave, ping = null, iceServers = async () => [], autoRejoin = true, maxAttempts = 8,
    reopenMedia = null,
  }) {
    super(); // listeners get {type, detail}, like a CustomEvent's
    this._iceServers = iceServers; // () => Promise<RTCIceServer[]>, asked before each connection
    this.stream = stream;
    this._offer = offer; // (sdp, {signal}) => Promise<{type: "answer", sdp}>
    this._leave = leave; // ({keepalive}) => Promise
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
    this._heartbeat = new Heartbeat({
      ping, // ({signal}) => Promise<boolean>: whether the server has this participant connected
      wasUp: () => Boolean(this.connectedAt),
      onLost: () => this._interrupt(),
      onBack: (present) => this._serverBack(present),
    });
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

  /** Whether the last heartbeat found the server unreachable (no rejoin attempt is spent then). */
  get serverUnreachable() {
    return this._heartbeat.unreachable;
  }

  /** Check the connection now (the page is in front again: see Heartbeat.checkNow). */
  checkNow() {
    if (!this.closed) this._heartbeat.checkNow();
  }

  /** How long a heartbeat may take before the server counts as unreachable. */
  beatTimeout() {
    return this._heartbeat.timeout();
  }

  /** The server answers again after an outage. A restarted server has lost our connection: rejoin now. */
  _serverBack(present) {
    if (this.closed) return;
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
    this._heartbeat.start();
    const asked = performance.now();
    const iceServers = await this._iceServers().catch(() => []);
    this._heartbeat.sample(performance.now() - asked);
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
      this._heartbeat.sample(performance.now() - sent); // an upper bound: the server gathers too
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
    this._heartbeat.stop();
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
