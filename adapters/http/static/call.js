// The call demo page (GET /demo/call): log in over the REST API, open the WebSocket, and place
// or answer one call at a time with RTCPeerConnection, the server relaying the signals
// (docs/protocol.md, "Calls"). Plain browser JavaScript, no build step. `window.demo` exposes
// the state so the browser tests (tests/browser) can read the connection's statistics.
"use strict";

const $ = (id) => document.getElementById(id);
const forceRelay = new URLSearchParams(location.search).get("relay") === "1";

const demo = {
  tokens: null, // {access_token, refresh_token}
  me: null, // the own profile
  socket: null,
  nextFrameId: 1,
  waitingReplies: new Map(), // frame id -> {resolve, reject}
  call: null, // {id, role, media, pc, channel, stream, answered, localQueue, remoteQueue, offer}
  log: [], // what the log box shows, for the tests
  callRecords: [], // the SYSTEM messages calls left, as `message.new` brought them
};
window.demo = demo;

function setStatus(text) {
  $("status").textContent = text;
}

function logLine(text) {
  demo.log.push(text);
  const line = document.createElement("div");
  line.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  $("log").append(line);
  $("log").scrollTop = $("log").scrollHeight;
}

// ---- REST ----

async function api(method, path, body, retried = false) {
  const headers = { "Content-Type": "application/json" };
  if (demo.tokens) headers.Authorization = `Bearer ${demo.tokens.access_token}`;
  const response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  // The access token lasts 15 minutes: renew it once with the refresh token.
  if (response.status === 401 && demo.tokens && !retried && !path.startsWith("/api/v1/auth/")) {
    demo.tokens = await api("POST", "/api/v1/auth/refresh", { refresh_token: demo.tokens.refresh_token });
    return api(method, path, body, true);
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error ? `${answer.error.code}: ${answer.error.message}` : response.statusText);
  return answer;
}

async function enter(path) {
  const username = $("username").value.trim();
  const password = $("password").value;
  const body = path.endsWith("register") ? { username, password, display_name: username } : { username, password };
  try {
    demo.tokens = null;
    const answer = await api("POST", path, body);
    demo.tokens = { access_token: answer.access_token, refresh_token: answer.refresh_token };
    demo.me = answer.user;
    $("me-name").textContent = answer.user.username;
    $("me-id").textContent = answer.user.id;
    const settings = await api("GET", "/api/v1/me/settings");
    $("anyone-may-call").checked = settings.who_can_call === "everyone";
    $("anyone-may-call").disabled = false;
    connect();
  } catch (error) {
    setStatus(`login failed: ${error.message}`);
  }
}

async function setWhoCanCall() {
  const audience = $("anyone-may-call").checked ? "everyone" : "friends";
  try {
    await api("PATCH", "/api/v1/me/settings", { who_can_call: audience });
    logLine(`who_can_call is now ${audience}`);
  } catch (error) {
    setStatus(`could not change the setting: ${error.message}`);
  }
}

// A user id as typed, or the id of the user with exactly this username.
async function calleeId() {
  const typed = $("callee").value.trim();
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(typed)) return typed;
  const { users } = await api("GET", `/api/v1/users/search?q=${encodeURIComponent(typed)}`);
  const user = users.find((candidate) => candidate.username === typed);
  if (!user) throw new Error(`no user named ${typed}`);
  return user.id;
}

// ---- WebSocket ----

function connect() {
  if (demo.socket) demo.socket.close();
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  demo.socket = socket;
  let heartbeat = null;
  socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: demo.tokens.access_token }));
  socket.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "ready") {
      heartbeat = setInterval(() => send({ type: "heartbeat" }), frame.heartbeat_interval_ms);
      setStatus("ready: call someone, or wait for a call");
      setButtons();
    } else {
      onFrame(frame);
    }
  };
  socket.onclose = (event) => {
    clearInterval(heartbeat);
    if (demo.socket !== socket) return; // replaced by a newer login
    setStatus(`socket closed (${event.code} ${event.reason}); reconnecting in 3 s`);
    setButtons();
    // A fresh access token, in case the closed socket's had expired.
    setTimeout(() => api("GET", "/api/v1/me").then(connect, (error) => setStatus(error.message)), 3000);
  };
}

function send(frame) {
  demo.socket.send(JSON.stringify(frame));
}

// Sends a frame with an id and resolves with its ack, or rejects with its error.
function request(frame) {
  const id = demo.nextFrameId++;
  return new Promise((resolve, reject) => {
    demo.waitingReplies.set(id, { resolve, reject });
    send({ ...frame, id });
  });
}

function onFrame(frame) {
  const waiting = frame.id !== undefined && demo.waitingReplies.get(frame.id);
  if (waiting && (frame.type === "ack" || frame.type === "error")) {
    demo.waitingReplies.delete(frame.id);
    if (frame.type === "ack") waiting.resolve(frame);
    else waiting.reject(new Error(`${frame.code}: ${frame.message}`));
    return;
  }
  const call = demo.call;
  const ours = call && frame.call_id === call.id;
  switch (frame.type) {
    case "call.incoming":
      if (call) return; // one call at a time; the server answers `busy` for us anyway
      demo.call = newCall("callee", frame.media, frame.call_id);
      demo.call.offer = frame.sdp;
      setStatus(`incoming ${frame.media} call from ${frame.caller.display_name} (${frame.caller.id})`);
      setButtons();
      break;
    case "call.ringing":
      if (ours) setStatus("ringing…");
      break;
    case "call.accepted":
      if (ours) answered(call, frame.sdp).catch(fail);
      break;
    case "call.ice":
      if (ours) addRemoteCandidate(call, frame.candidate).catch(fail);
      break;
    case "call.ended":
      if (ours) ended(frame.reason, frame.duration_ms);
      break;
    case "message.new": {
      const system = frame.message.system;
      if (system && system.event === "call") {
        demo.callRecords.push(frame.message);
        logLine(describeCallRecord(system));
      }
      break;
    }
    case "error":
      setStatus(`error: ${frame.code}: ${frame.message}`);
      break;
  }
}

function describeCallRecord(system) {
  const duration = system.duration_ms !== undefined && system.duration_ms !== null
    ? `, ${(system.duration_ms / 1000).toFixed(1)} s` : "";
  return `call record: ${system.media} call ${system.outcome} (${system.reason}${duration})`;
}

// ---- the call ----

function newCall(role, media, id = null) {
  return { id, role, media, pc: null, channel: null, stream: null, answered: false, localQueue: [], remoteQueue: [] };
}

// The peer connection with this server's ICE servers, camera and microphone attached.
async function preparePeer(call) {
  const { ice_servers: iceServers } = await api("GET", "/api/v1/calls/ice-servers");
  if (forceRelay && !iceServers.some((server) => server.urls.some((url) => url.startsWith("turn")))) {
    throw new Error("relay=1 but the server hands out no TURN server (TURN_URLS)");
  }
  call.pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: forceRelay ? "relay" : "all" });
  call.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: call.media === "video" });
  $("local-video").srcObject = call.stream;
  for (const track of call.stream.getTracks()) call.pc.addTrack(track, call.stream);
  call.pc.ontrack = (event) => { $("remote-video").srcObject = event.streams[0]; };
  call.pc.onicecandidate = (event) => {
    if (event.candidate) sendCandidate(call, event.candidate.toJSON());
  };
  call.pc.onconnectionstatechange = () => {
    if (demo.call === call) setStatus(`call ${call.pc.connectionState}`);
  };
  call.pc.ondatachannel = (event) => attachChannel(call, event.channel);
}

function attachChannel(call, channel) {
  call.channel = channel;
  channel.onopen = setButtons;
  channel.onclose = setButtons;
  channel.onmessage = (event) => logLine(`them: ${event.data}`);
}

// Candidates wait until the server knows the call (caller: the invite's ack; callee: after
// call.accept, since a callee may not send candidates before it answers).
function sendCandidate(call, candidate) {
  if (!call.id || (call.role === "callee" && !call.answered)) call.localQueue.push(candidate);
  else send({ type: "call.ice", call_id: call.id, candidate });
}

function flushLocalCandidates(call) {
  for (const candidate of call.localQueue.splice(0)) send({ type: "call.ice", call_id: call.id, candidate });
}

// Remote candidates wait until the remote description is set.
async function addRemoteCandidate(call, candidate) {
  if (!call.pc || !call.pc.remoteDescription) call.remoteQueue.push(candidate);
  else await call.pc.addIceCandidate(candidate);
}

async function flushRemoteCandidates(call) {
  for (const candidate of call.remoteQueue.splice(0)) await call.pc.addIceCandidate(candidate);
}

async function placeCall(media) {
  const call = newCall("caller", media);
  demo.call = call;
  setButtons();
  try {
    const userId = await calleeId();
    await preparePeer(call);
    attachChannel(call, call.pc.createDataChannel("chat"));
    await call.pc.setLocalDescription(await call.pc.createOffer());
    setStatus("calling…");
    const ack = await request({ type: "call.invite", user_id: userId, media, sdp: call.pc.localDescription.sdp });
    call.id = ack.call_id;
    // Hung up while the invite was on its way: cancel it now that the server knows it.
    if (demo.call !== call) return void request({ type: "call.cancel", call_id: call.id }).catch(() => {});
    flushLocalCandidates(call);
    setButtons();
  } catch (error) {
    fail(error);
  }
}

async function answered(call, sdp) {
  call.answered = true;
  await call.pc.setRemoteDescription({ type: "answer", sdp });
  await flushRemoteCandidates(call);
  setStatus("answered, connecting…");
  setButtons();
}

async function accept() {
  const call = demo.call;
  try {
    await preparePeer(call);
    await call.pc.setRemoteDescription({ type: "offer", sdp: call.offer });
    await flushRemoteCandidates(call);
    await call.pc.setLocalDescription(await call.pc.createAnswer());
    await request({ type: "call.accept", call_id: call.id, sdp: call.pc.localDescription.sdp });
    call.answered = true;
    flushLocalCandidates(call);
    setStatus("answered, connecting…");
    setButtons();
  } catch (error) {
    fail(error);
  }
}

// Decline, cancel and hang up are one request to the server: it tells them apart by who sends
// it and when.
function leave(type) {
  const call = demo.call;
  if (call && call.id) request({ type, call_id: call.id }).catch((error) => setStatus(error.message));
  else if (call) ended("cancelled before the server knew the call");
}

function ended(reason, durationMs) {
  const call = demo.call;
  demo.call = null;
  if (call) {
    if (call.pc) call.pc.close();
    if (call.stream) call.stream.getTracks().forEach((track) => track.stop());
  }
  $("local-video").srcObject = null;
  $("remote-video").srcObject = null;
  const duration = durationMs !== undefined && durationMs !== null ? ` after ${(durationMs / 1000).toFixed(1)} s` : "";
  setStatus(`call ended: ${reason}${duration}`);
  setButtons();
}

function fail(error) {
  const call = demo.call;
  if (call && call.id) leave(call.answered ? "call.hangup" : call.role === "caller" ? "call.cancel" : "call.reject");
  ended(`failed: ${error.message}`);
}

// ---- buttons ----

function setButtons() {
  const online = demo.socket && demo.socket.readyState === WebSocket.OPEN;
  const call = demo.call;
  const ringingHere = call && call.role === "callee" && !call.answered && !call.pc;
  $("call-video").disabled = !online || !!call;
  $("call-audio").disabled = !online || !!call;
  $("accept").disabled = !ringingHere;
  $("decline").disabled = !ringingHere;
  $("hangup").disabled = !call || ringingHere;
  $("chat-send").disabled = !(call && call.channel && call.channel.readyState === "open");
}

$("register").onclick = () => enter("/api/v1/auth/register");
$("login").onclick = () => enter("/api/v1/auth/login");
$("anyone-may-call").onchange = setWhoCanCall;
$("call-video").onclick = () => placeCall("video");
$("call-audio").onclick = () => placeCall("audio");
$("accept").onclick = accept;
$("decline").onclick = () => leave("call.reject");
$("hangup").onclick = () => {
  const call = demo.call;
  leave(call && call.role === "caller" && !call.answered ? "call.cancel" : "call.hangup");
};
$("chat-send").onclick = () => {
  const text = $("chat-text").value;
  if (!text || !demo.call || !demo.call.channel) return;
  demo.call.channel.send(text);
  logLine(`you: ${text}`);
  $("chat-text").value = "";
};
if (forceRelay) logLine("relay=1: media only through TURN (iceTransportPolicy \"relay\")");
