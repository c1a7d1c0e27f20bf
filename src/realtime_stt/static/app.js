// Demo client for the realtime speech-to-text WebSocket (/ws). No build step, no libraries.
//
// Flow: Start -> microphone -> AudioWorklet (pcm-worklet.js) makes 16 kHz PCM16 frames of
// ~100 ms -> binary WebSocket messages. The server answers with JSON: "ready", then per
// utterance "partial" (replaces the previous guess) and one "final". Stop -> {"type":"end"};
// the server sends the remaining finals and closes with 1000, so we wait for the close.
"use strict";

const TARGET_RATE = 16000;
const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"), engine: $("engine"), language: $("language"), toggle: $("toggle"),
  error: $("error"), finals: $("finals"), partial: $("partial"),
};

// Server error codes in words a person understands; unknown codes show the server's message.
const ERROR_TEXT = {
  busy: "The server is busy with other sessions. Please try again in a moment.",
  engine_not_ready: "The speech engine is still starting up. Please try again in a few seconds.",
  frame_too_large: "The browser sent more audio at once than the server accepts.",
  client_too_slow: "The connection could not keep up, so the server ended the session.",
  invalid_language: "The server does not accept that language.",
  invalid_sample_rate: "The server did not accept the audio format.",
  session_too_long: "The session reached its maximum length. Press Start to begin a new one.",
  engine_overloaded: "The speech engine is overloaded. Please try again shortly.",
  engine_failure: "The speech engine failed. Please try again.",
  engine_stopped: "The speech engine stopped unexpectedly. Please try again.",
};

// WebSocket close codes other than 1000 (normal end).
const CLOSE_TEXT = {
  1006: "Could not reach the speech server, or it refused this page.",
  1008: "The server refused the session (not allowed, or the connection was too slow).",
  1009: "The browser sent more audio at once than the server accepts.",
  1011: "The speech engine failed. Please try again.",
  1013: "The server is busy or still starting. Please try again in a moment.",
};

let session = null; // the running session: { ws, ctx, stream, source, node, queue, ... }

function setState(kind, text) {
  ui.state.dataset.state = kind;
  ui.state.textContent = text;
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = !text;
}

function setButton(label, enabled) {
  ui.language.disabled = label === "Stop" || (label === "Start" && !enabled); // fixed per session
  ui.toggle.textContent = label;
  ui.toggle.disabled = !enabled;
  ui.toggle.classList.toggle("stop", label === "Stop");
}

// Microphone problems, explained.
function micError(err) {
  if (!window.isSecureContext) return "The microphone needs HTTPS (or localhost).";
  if (err.name === "NotAllowedError") return "Microphone access was denied. Allow it and retry.";
  if (err.name === "NotFoundError") return "No microphone was found.";
  return `Could not start the microphone: ${err.message || err.name}`;
}

// ws:// or wss:// on this page's own host; ?token= on the page is passed on to the server.
function socketUrl(language, rate) {
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("language", language);
  url.searchParams.set("sample_rate", String(rate));
  const token = new URLSearchParams(location.search).get("token");
  if (token) url.searchParams.set("token", token);
  return url.toString();
}

// Send now if the socket is open, or keep it until it opens (audio captured while connecting).
function send(s, data) {
  if (s.ws.readyState === WebSocket.OPEN) s.ws.send(data);
  else if (s.ws.readyState === WebSocket.CONNECTING) s.queue.push(data);
}

async function start() {
  showError("");
  ui.finals.replaceChildren();
  ui.partial.textContent = "";
  ui.engine.textContent = "";
  setButton("Start", false);
  setState("connecting", "Connecting…");
  // Create the AudioContext inside the click: browsers only allow audio after a user gesture.
  const ctx = new AudioContext();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    await ctx.audioWorklet.addModule("pcm-worklet.js");
  } catch (err) {
    ctx.close();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    showError(micError(err));
    setState("error", "Microphone unavailable");
    setButton("Start", true);
    return;
  }
  const rate = Math.min(TARGET_RATE, ctx.sampleRate); // the worklet never upsamples
  const ws = new WebSocket(socketUrl(ui.language.value, rate));
  ws.binaryType = "arraybuffer";
  const node = new AudioWorkletNode(ctx, "pcm-downsampler", {
    processorOptions: { targetRate: TARGET_RATE, frameMs: 100 },
  });
  const source = ctx.createMediaStreamSource(stream);
  const s = { ws, ctx, stream, source, node, queue: [], stopping: false, errorShown: false };
  session = s;

  // Frames (ArrayBuffers) from the worklet go to the server; "flushed" means Stop may end.
  node.port.onmessage = (event) => {
    if (event.data === "flushed") send(s, JSON.stringify({ type: "end" }));
    else send(s, event.data);
  };
  ws.onopen = () => s.queue.splice(0).forEach((data) => ws.send(data));
  ws.onmessage = (event) => handleMessage(s, JSON.parse(event.data));
  ws.onclose = (event) => closed(s, event);

  // Low-pass below the new Nyquist (8 kHz) before the worklet's averaging decimator. The worklet
  // outputs silence; connecting it to the speakers just keeps the browser running it.
  const lowpass = new BiquadFilterNode(ctx, { type: "lowpass", frequency: 0.45 * rate });
  source.connect(lowpass).connect(node).connect(ctx.destination);
  setButton("Stop", true);
}

function handleMessage(s, msg) {
  switch (msg.type) {
    case "ready":
      ui.engine.textContent = `Engine: ${msg.engine} · model: ${msg.model} · ${msg.language}`;
      setState("listening", "Listening");
      break;
    case "partial": // the live guess; each partial replaces the previous one
      ui.partial.textContent = msg.text;
      break;
    case "final": // exactly one per utterance; an empty final only clears the partial
      ui.partial.textContent = "";
      if (msg.text.trim()) addFinal(msg);
      break;
    case "error":
      s.errorShown = true;
      showError(ERROR_TEXT[msg.code] || `Server error (${msg.code}): ${msg.message}`);
      break;
    default: // speech_started and anything newer: nothing to show
      break;
  }
}

function addFinal(msg) {
  const item = document.createElement("li");
  const ts = document.createElement("span");
  ts.className = "ts";
  ts.textContent = `[${msg.ts.start_s.toFixed(2)}–${msg.ts.end_s.toFixed(2)}]`;
  item.append(ts, " ", msg.text.trim());
  ui.finals.append(item);
}

// Stop: no more microphone input, send the last partial frame, then {"type":"end"}.
function stop() {
  if (!session || session.stopping) return;
  session.stopping = true;
  setButton("Stop", false);
  setState("finishing", "Finishing…");
  session.source.disconnect();
  session.node.port.postMessage("flush"); // the worklet answers with its last frame + "flushed"
  const ws = session.ws;
  setTimeout(() => ws.close(), 30000); // give up if the server never closes
}

// The socket closed: after "end" (1000) or because of a problem.
function closed(s, event) {
  session = null;
  s.stream.getTracks().forEach((t) => t.stop());
  s.ctx.close();
  ui.partial.textContent = "";
  if (event.code === 1000 && s.stopping) {
    setState("idle", "Stopped");
  } else {
    if (!s.errorShown) {
      showError(CLOSE_TEXT[event.code] || `The connection closed unexpectedly (${event.code}).`);
    }
    setState("error", "Disconnected");
  }
  setButton("Start", true);
}

ui.toggle.addEventListener("click", () => (session ? stop() : start()));
