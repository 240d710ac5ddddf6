/**
 * The page each browser runs in the WebRTC call test: a minimal web client that speaks to the real
 * server over GraphQL (HTTP for mutations, graphql-transport-ws for `myCallUpdates`), captures the
 * browser's (fake) camera and microphone, and connects a real RTCPeerConnection to the other browser
 * with the offer, answer and ICE candidates relayed by `sendCallSignal`. When video bytes arrive from
 * the other side it confirms its media (`confirmCallMedia`), as the local provider expects.
 *
 * Plain browser JavaScript: the test serves it as is, so it needs no bundler.
 */
export const BROWSER_CALL_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>OLO call test</title></head>
<body>
<video id="remote" autoplay playsinline muted></video>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const state = { subscribed: false, callState: null, pc: 'new', bytesReceived: 0, confirmed: false, errors: [] };
window.olo = { state };
let pc = null;
let callId = null;
const pendingSignals = [];
const pendingCandidates = [];

async function graphql(query, variables) {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const sendSignal = (kind, payload) =>
  graphql('mutation($c: ID!, $k: CallSignalKind!, $p: String!) { sendCallSignal(callId: $c, kind: $k, payload: $p) }',
    { c: callId, k: kind, p: JSON.stringify(payload) });

function fail(error) {
  state.errors.push(String(error && error.message ? error.message : error));
}

const socket = new WebSocket(location.origin.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init', payload: { token } }));
socket.onclose = (event) => { if (!state.closedOnPurpose) fail('socket closed ' + event.code); };
socket.onmessage = (message) => {
  const data = JSON.parse(message.data);
  if (data.type === 'connection_ack') {
    socket.send(JSON.stringify({ id: 'calls', type: 'subscribe', payload: {
      query: 'subscription { myCallUpdates { call { id state } signal { callId from kind payload } } }',
    } }));
    state.subscribed = true;
  } else if (data.type === 'next') {
    const update = data.payload.data && data.payload.data.myCallUpdates;
    if (!update) return fail(JSON.stringify(data.payload));
    if (update.call) {
      state.callState = update.call.state;
      if (update.call.state === 'ENDED' && pc) {
        // close() fires no connectionstatechange, so the state is recorded here.
        pc.close();
        state.pc = pc.connectionState;
      }
    }
    if (update.signal) onSignal(update.signal).catch(fail);
  } else if (data.type === 'error') {
    fail(JSON.stringify(data.payload));
  }
};

async function flushCandidates() {
  while (pendingCandidates.length > 0) await pc.addIceCandidate(pendingCandidates.shift());
}

async function onSignal(signal) {
  if (!pc) return pendingSignals.push(signal);
  const payload = JSON.parse(signal.payload);
  if (signal.kind === 'OFFER') {
    await pc.setRemoteDescription(payload);
    await pc.setLocalDescription(await pc.createAnswer());
    await sendSignal('ANSWER', pc.localDescription);
    await flushCandidates();
  } else if (signal.kind === 'ANSWER') {
    await pc.setRemoteDescription(payload);
    await flushCandidates();
  } else if (signal.kind === 'ICE') {
    if (pc.remoteDescription) await pc.addIceCandidate(payload);
    else pendingCandidates.push(payload);
  }
}

async function confirmWhenMediaFlows() {
  for (;;) {
    if (!pc || pc.connectionState !== 'connected') return;
    const stats = await pc.getStats();
    let bytes = 0;
    stats.forEach((report) => {
      if (report.type === 'inbound-rtp' && report.kind === 'video') bytes += report.bytesReceived || 0;
    });
    state.bytesReceived = bytes;
    if (bytes > 0) {
      await graphql('mutation($c: ID!) { confirmCallMedia(callId: $c) { id state } }', { c: callId });
      state.confirmed = true;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

window.olo.start = async (id, isCaller) => {
  callId = id;
  const media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  pc = new RTCPeerConnection({ iceServers: [] });
  for (const track of media.getTracks()) pc.addTrack(track, media);
  pc.ontrack = (event) => { document.getElementById('remote').srcObject = event.streams[0]; };
  pc.onicecandidate = (event) => { if (event.candidate) sendSignal('ICE', event.candidate).catch(fail); };
  pc.onconnectionstatechange = () => {
    state.pc = pc.connectionState;
    if (pc.connectionState === 'connected') confirmWhenMediaFlows().catch(fail);
  };
  for (const signal of pendingSignals.splice(0)) await onSignal(signal);
  if (isCaller) {
    await pc.setLocalDescription(await pc.createOffer());
    await sendSignal('OFFER', pc.localDescription);
  }
};

window.olo.close = () => { state.closedOnPurpose = true; socket.close(); };
</script>
</body></html>`;
