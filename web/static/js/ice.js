// ICE for the non-trickle signalling of mediacall.js: wait for gathering, the ICE servers to use,
// and what an SDP or getStats says about candidates (diagnostics and the end-to-end tests).

const GATHER_TIMEOUT_MS = 5000;

/** Resolve once pc has gathered all its ICE candidates (or after timeoutMs, with what it has). */
export function waitIceGathering(pc, timeoutMs = GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") done();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/** The ICE candidates written in an SDP: [{address, port, protocol, type}]. */
export function sdpCandidates(sdp) {
  const out = [];
  for (const line of (sdp || "").split(/\r?\n/)) {
    const m = line.match(/^a=candidate:\S+ \d+ (\S+) \d+ (\S+) (\d+) typ (\S+)/);
    if (m) out.push({ protocol: m[1].toLowerCase(), address: m[2], port: Number(m[3]), type: m[4] });
  }
  return out;
}

/** Addresses of the candidate pair the connection actually uses (from getStats), or null. */
export async function selectedCandidatePair(pc) {
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) {
    stats.forEach((s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated) pair = s;
    });
  }
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return {
    local: local && (local.address || local.ip),
    remote: remote && (remote.address || remote.ip),
  };
}

/** The ICE servers (TURN credentials expire: fetched again for each new connection). */
export async function fetchIceServers(url) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) return [];
  const body = await response.json();
  return Array.isArray(body.ice_servers) ? body.ice_servers : [];
}
