// The demo page, built on the client module the server serves at /client.js: the same import a
// front end uses (`import { RealtimeTranscriber } from "https://backend.example/client.js"`).
//
// Start -> RealtimeTranscriber.start() asks for the microphone and streams it to /ws; partials
// (grey) and finals (with their times) appear as they come. Stop -> stop() sends the last audio
// and {"type":"end"}, and resolves once the server has sent every final and closed normally.
import { RealtimeTranscriber } from "./client.js";

const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"), engine: $("engine"), language: $("language"), toggle: $("toggle"),
  error: $("error"), finals: $("finals"), partial: $("partial"), level: $("level"),
};

let transcriber = null; // the running session's transcriber
let failed = false; // a fatal error ended (or prevented) the session

function setBadge(kind, text) {
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

function addFinal(final) {
  const item = document.createElement("li");
  const ts = document.createElement("span");
  ts.className = "ts";
  ts.textContent = `[${final.startS.toFixed(2)}–${final.endS.toFixed(2)}]`;
  item.append(ts, " ", final.text.trim());
  ui.finals.append(item);
}

// What the badge says when a session could not start.
function unavailable(error) {
  const mic = error && /^(microphone|insecure|audio)/.test(error.code);
  return mic ? "Microphone unavailable" : "Not connected";
}

function onState(t, state) {
  if (t !== transcriber) return;
  switch (state) {
    case "connecting":
      setBadge("connecting", "Connecting…");
      setButton("Stop", true);
      break;
    case "listening":
      setBadge("listening", "Listening");
      break;
    case "stopping":
      setBadge("finishing", "Finishing…");
      setButton("Stop", false);
      break;
    case "closed":
      transcriber = null;
      ui.partial.textContent = "";
      ui.level.value = 0;
      if (failed) setBadge("error", t.ready ? "Disconnected" : unavailable(t.error));
      else setBadge("idle", "Stopped");
      setButton("Start", true);
      break;
    default:
      break;
  }
}

// ?token= on the page is passed on to the server.
function start() {
  showError("");
  ui.finals.replaceChildren();
  ui.partial.textContent = "";
  ui.engine.textContent = "";
  failed = false;
  const t = new RealtimeTranscriber({
    url: new URL(".", location.href).href, // this page's server (and path prefix, if any)
    language: ui.language.value,
    token: new URLSearchParams(location.search).get("token") || undefined,
  });
  transcriber = t;
  t.addEventListener("state", (e) => onState(t, e.detail));
  t.addEventListener("ready", (e) => {
    const { engine, model, language } = e.detail;
    ui.engine.textContent = `Engine: ${engine} · model: ${model} · ${language}`;
  });
  // Each partial replaces the previous one; a final (one per utterance) takes its place.
  t.addEventListener("partial", (e) => (ui.partial.textContent = e.detail.text));
  t.addEventListener("final", (e) => {
    ui.partial.textContent = t.partial ? t.partial.text : "";
    if (e.detail.text.trim()) addFinal(e.detail);
  });
  t.addEventListener("level", (e) => (ui.level.value = e.detail));
  t.addEventListener("error", (e) => {
    if (e.detail.fatal) failed = true;
    showError(e.detail.message);
  });
  // Called inside the click: browsers only allow audio after a user gesture.
  t.start().catch(() => {}); // the error event has shown why
}

function stop() {
  transcriber.stop().catch(() => {}); // likewise
}

ui.toggle.addEventListener("click", () => (transcriber ? stop() : start()));
