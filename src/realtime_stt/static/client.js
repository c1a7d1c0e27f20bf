// realtime-stt-client 0.1.0 (MIT): built by clients/js/build.mjs from clients/js/src; edit the sources, not this file.
// inline-worklet:pcm-worklet
var pcm_worklet_default = 'var i=class{constructor(e,s=16e3){this.acc=0;this.filled=0;if(!(e>0)||!(s>0))throw new RangeError("sample rates must be positive");this.inRate=e,this.outRate=Math.min(s,e),this.ratio=e/this.outRate}process(e,s){let r=this.ratio;for(let t=0;t<e.length;t++){let o=e[t],a=1;for(;a>0;){let h=r-this.filled;a<h?(this.acc+=o*a,this.filled+=a,a=0):(this.acc+=o*h,s(this.acc/r),this.acc=0,this.filled=0,a-=h)}}}};function p(n){let e=n>1?1:n<-1?-1:n;return e<0?Math.ceil(e*32768-.5):Math.floor(e*32767+.5)}function m(n,e=100){return Math.max(1,Math.round(n*e/1e3))}var l=class{constructor(e,s){this.size=e;this.onFrame=s;this.used=0;if(!(e>=1))throw new RangeError("a frame holds at least one sample");this.frame=new Int16Array(e)}get pending(){return this.used}push(e){this.frame[this.used++]=p(e),this.used===this.size&&this.flush()}flush(){if(this.used===0)return;let e=this.frame.slice(0,this.used);this.used=0,this.onFrame(e)}};function c(n,e){let s=e.length,r=n.length;for(let t=0;t<s;t++){let o=0;for(let a=0;a<r;a++)o+=n[a][t];e[t]=o/r}return e}var u=class extends AudioWorkletProcessor{constructor(s){super(s);this.mono=new Float32Array(128);let r=s.processorOptions??{};this.resampler=new i(sampleRate,r.targetRate??16e3);let t=m(this.resampler.outRate,r.frameMs??100);this.framer=new l(t,o=>{this.port.postMessage(o.buffer,[o.buffer])}),this.push=o=>this.framer.push(o),this.port.onmessage=o=>{o.data==="flush"&&(this.framer.flush(),this.port.postMessage("flushed"))}}process(s){let r=s[0];if(!r||r.length===0)return!0;let t=r[0];return r.length>1&&(this.mono.length!==t.length&&(this.mono=new Float32Array(t.length)),t=c(r,this.mono)),this.resampler.process(t,this.push),!0}};registerProcessor("pcm-downsampler",u);\n';

// src/audio.ts
var TARGET_RATE = 16e3;
var FRAME_MS = 100;
var LEVEL_FLOOR_DB = -60;
function levelOf(frame) {
  if (frame.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < frame.length; i++) {
    const x = frame[i] / 32768;
    sum += x * x;
  }
  const rms = Math.sqrt(sum / frame.length);
  if (rms === 0) return 0;
  const db = 20 * Math.log10(rms);
  const level = (db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB;
  return level < 0 ? 0 : level > 1 ? 1 : level;
}

// src/errors.ts
var TranscriberError = class extends Error {
  constructor(code, message, options = {}) {
    super(message);
    this.name = "TranscriberError";
    this.code = code;
    this.fatal = options.fatal ?? true;
    if (options.closeCode !== void 0) this.closeCode = options.closeCode;
    if (options.serverMessage !== void 0) this.serverMessage = options.serverMessage;
    if (options.cause !== void 0) this.cause = options.cause;
  }
  /** `{code, message, fatal, ...}`: what JSON.stringify and structured logs show. */
  toJSON() {
    const out = {
      code: this.code,
      message: this.message,
      fatal: this.fatal
    };
    if (this.closeCode !== void 0) out.closeCode = this.closeCode;
    if (this.serverMessage !== void 0) out.serverMessage = this.serverMessage;
    return out;
  }
};
var PROTOCOL = "The server did not understand a message from this client (a client bug).";
var PART_LOST = "Part of an utterance could not be transcribed; its final holds what was heard.";
var SERVER_ERRORS = {
  invalid_json: { text: PROTOCOL, fatal: false },
  unknown_message: { text: PROTOCOL, fatal: false },
  invalid_message: { text: PROTOCOL, fatal: false },
  already_ended: { text: "The session was already ending.", fatal: false },
  audio_after_end: { text: "Audio sent after the end of the session was ignored.", fatal: false },
  frame_too_large: {
    text: "The browser sent more audio at once than the server accepts.",
    fatal: true
  },
  invalid_sample_rate: { text: "The server did not accept the audio format.", fatal: true },
  invalid_language: { text: "The server does not accept that language.", fatal: true },
  busy: {
    text: "The server is busy with other sessions. Please try again in a moment.",
    fatal: true
  },
  engine_not_ready: {
    text: "The speech engine is still starting up. Please try again in a few seconds.",
    fatal: true
  },
  shutting_down: {
    text: "The server is restarting. Please try again in a moment.",
    fatal: true
  },
  session_too_long: {
    text: "The session reached its maximum length; start a new one to go on.",
    fatal: true
  },
  client_too_slow: {
    text: "The connection could not keep up, so the server ended the session.",
    fatal: true
  },
  engine_failure: { text: "The speech engine failed. Please try again.", fatal: true },
  engine_stopped: {
    text: "The speech engine stopped unexpectedly. Please try again.",
    fatal: true
  },
  engine_overloaded: {
    text: "The speech engine is overloaded. Please try again shortly.",
    fatal: true
  },
  upstream_auth_failed: {
    text: "The transcription service refused the server's API key.",
    fatal: true
  },
  upstream_unavailable: {
    text: "The server could not reach the transcription service. Please try again later.",
    fatal: true
  },
  upstream_closed: {
    text: "The transcription service ended the session. Please try again.",
    fatal: true
  },
  transcription_failed: {
    text: "One utterance could not be transcribed; its text is missing.",
    fatal: false
  },
  upstream_lost: { text: PART_LOST, fatal: false },
  final_timeout: { text: PART_LOST, fatal: false }
};
function serverError(code, message) {
  const known = SERVER_ERRORS[code];
  if (known) return new TranscriberError(code, known.text, { fatal: known.fatal, serverMessage: message });
  if (code.startsWith("upstream_error:")) {
    const upstream = code.slice("upstream_error:".length);
    const text = `The transcription service reported an error (${upstream}): ${message}`;
    return new TranscriberError(code, text, { fatal: false, serverMessage: message });
  }
  return new TranscriberError(code, `Server error (${code}): ${message}`, {
    fatal: false,
    serverMessage: message
  });
}
var CLOSE_TEXT = {
  1001: "The server is restarting or going away; the session ended. Please start again.",
  1006: "The connection to the speech server was lost.",
  1008: "The server ended the session (not allowed, or the connection was too slow).",
  1009: "The browser sent more audio at once than the server accepts.",
  1011: "The speech engine failed. Please try again.",
  1012: "The server is restarting. Please try again in a moment.",
  1013: "The server is busy or still starting. Please try again in a moment."
};
function closeError(closeCode, reason = "") {
  const words2 = CLOSE_TEXT[closeCode] ?? `The connection to the speech server closed unexpectedly (${closeCode}).`;
  const text = reason ? `${words2} (${reason})` : words2;
  return new TranscriberError("connection_closed", text, { closeCode });
}
function microphoneError(err, secure) {
  if (!secure) return insecureContext();
  const name = err instanceof Error || isNamed(err) ? err.name : "";
  const detail = err instanceof Error || isNamed(err) ? err.message : String(err);
  switch (name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return new TranscriberError(
        "microphone_denied",
        "Microphone access was denied. Allow it for this site and try again.",
        { cause: err }
      );
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return new TranscriberError("microphone_not_found", "No microphone was found.", {
        cause: err
      });
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return new TranscriberError(
        "microphone_busy",
        "The microphone could not be opened: another application may be using it.",
        { cause: err }
      );
    default:
      return new TranscriberError(
        "microphone_failed",
        `Could not start the microphone: ${detail || name || "unknown error"}`,
        { cause: err }
      );
  }
}
function isNamed(value) {
  return typeof value === "object" && value !== null && typeof value.name === "string" && typeof value.message === "string";
}
function insecureContext() {
  return new TranscriberError(
    "insecure_context",
    "The microphone needs a secure page: open it over HTTPS (or on localhost)."
  );
}
function handshakeError(failure) {
  switch (failure.kind) {
    case "unreachable":
      return new TranscriberError(
        "server_unreachable",
        `Could not reach the speech server at ${failure.server}: check the address and that it is running.`,
        { closeCode: 1006 }
      );
    case "origin":
      return new TranscriberError(
        "origin_not_allowed",
        `The speech server at ${failure.server} does not allow this page's origin (${failure.origin}): add it to the server's ALLOWED_ORIGINS.`,
        { closeCode: 1006 }
      );
    case "token":
      return new TranscriberError(
        "unauthorized",
        failure.tokenGiven ? "The speech server refused the API token: check the token option." : "The speech server requires an API token: pass it as the token option.",
        { closeCode: 1006 }
      );
    case "refused":
      return new TranscriberError(
        "handshake_failed",
        `The server at ${failure.server} did not accept the WebSocket connection (its /healthz answered HTTP ${failure.status}); a proxy in front of it may not pass WebSockets on.`,
        { closeCode: 1006 }
      );
  }
}

// src/protocol.ts
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
var Invalid = class extends Error {
};
function str(obj, key) {
  const value = obj[key];
  if (typeof value !== "string") throw new Invalid(`${key} must be a string`);
  return value;
}
function num(obj, key) {
  const value = obj[key];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Invalid(`${key} must be a number`);
  }
  return value;
}
function span(obj) {
  const ts = obj.ts;
  if (!isObject(ts)) throw new Invalid("ts must be an object");
  return { startS: num(ts, "start_s"), endS: num(ts, "end_s") };
}
function words(value) {
  if (!Array.isArray(value)) throw new Invalid("words must be a list");
  return value.map((item) => {
    if (!isObject(item)) throw new Invalid("each word must be an object");
    return { word: str(item, "word"), startS: num(item, "start_s"), endS: num(item, "end_s") };
  });
}
function parseServerMessage(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return { type: "invalid", reason: "not JSON" };
  }
  if (!isObject(data)) return { type: "invalid", reason: "not a JSON object" };
  if (typeof data.type !== "string") return { type: "invalid", reason: "type must be a string" };
  try {
    switch (data.type) {
      case "ready":
        return {
          type: "ready",
          sessionId: str(data, "session_id"),
          engine: str(data, "engine"),
          model: str(data, "model"),
          language: str(data, "language"),
          sampleRate: num(data, "sample_rate")
        };
      case "speech_started":
        return {
          type: "speech_started",
          segmentId: num(data, "segment_id"),
          startS: span(data).startS
        };
      case "partial":
        return {
          type: "partial",
          segmentId: num(data, "segment_id"),
          text: str(data, "text"),
          ...span(data)
        };
      case "final": {
        const final = {
          type: "final",
          segmentId: num(data, "segment_id"),
          text: str(data, "text"),
          ...span(data)
        };
        if (data.words !== void 0 && data.words !== null) final.words = words(data.words);
        return final;
      }
      case "error": {
        const error = {
          type: "error",
          code: str(data, "code"),
          message: str(data, "message")
        };
        if (typeof data.segment_id === "number") error.segmentId = data.segment_id;
        return error;
      }
      default:
        return { type: "unknown", messageType: data.type };
    }
  } catch (err) {
    if (err instanceof Invalid) return { type: "invalid", reason: `${data.type}: ${err.message}` };
    throw err;
  }
}
function controlMessage(type) {
  return JSON.stringify({ type });
}
function socketUrl(base, params, pageHref2) {
  const url = new URL(base, pageHref2);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(`the server URL must be http(s) or ws(s), not ${url.protocol}`);
  }
  if (!url.pathname.endsWith("/ws")) url.pathname = `${url.pathname.replace(/\/+$/, "")}/ws`;
  url.hash = "";
  if (params.language) url.searchParams.set("language", params.language);
  url.searchParams.set("sample_rate", String(params.sampleRate));
  if (params.token) url.searchParams.set("token", params.token);
  return url.toString();
}
function healthUrl(base, pageHref2) {
  const url = new URL(base, pageHref2);
  if (url.protocol === "ws:") url.protocol = "http:";
  else if (url.protocol === "wss:") url.protocol = "https:";
  let path = url.pathname.replace(/\/+$/, "");
  if (path.endsWith("/ws")) path = path.slice(0, -3);
  url.pathname = `${path}/healthz`;
  url.search = "";
  url.hash = "";
  return url.toString();
}

// src/transcript.ts
var Transcript = class {
  constructor() {
    this.done = [];
    this.live = null;
  }
  /** The finals so far, oldest first, without the empty ones (a sound that held no words). */
  get finals() {
    return this.done.slice();
  }
  /** The live guess of the utterance in progress, or null. */
  get partial() {
    return this.live;
  }
  /** The finals' text and then the partial's, joined by spaces. */
  get text() {
    const parts = this.done.map((f) => f.text.trim());
    if (this.live) parts.push(this.live.text.trim());
    return parts.filter((part) => part.length > 0).join(" ");
  }
  /** A partial replaces the previous guess. */
  applyPartial(partial) {
    this.live = partial;
  }
  /** A final closes its utterance and clears the partial of that utterance (or an older one). */
  applyFinal(final) {
    if (this.live !== null && this.live.segmentId <= final.segmentId) this.live = null;
    if (final.text.trim().length > 0) this.done.push(final);
  }
  clearPartial() {
    this.live = null;
  }
};

// src/client.ts
var DEFAULT_CONNECT_TIMEOUT_MS = 8e3;
var DEFAULT_STOP_TIMEOUT_MS = 3e4;
var DEFAULT_MAX_BUFFERED_SECONDS = 5;
var PROBE_TIMEOUT_MS = 3e3;
function aborted() {
  return new TranscriberError("aborted", "The session was closed before the server was ready.");
}
function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
function pageHref() {
  return typeof location === "undefined" ? void 0 : location.href;
}
function timeoutSignal(ms) {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), ms);
  return controller.signal;
}
var RealtimeTranscriber = class extends EventTarget {
  constructor(options) {
    super();
    this.current = null;
    this.status = "idle";
    this.text = new Transcript();
    this.readyInfo = null;
    this.lastError = null;
    this.stopping = null;
    this.emitted = /* @__PURE__ */ new WeakSet();
    if (!options || typeof options.url !== "string" || options.url === "") {
      throw new TypeError("RealtimeTranscriber needs {url}: the server's http(s) base URL");
    }
    this.options = { ...options };
  }
  /** `idle`, `connecting`, `listening`, `stopping` or `closed`. */
  get state() {
    return this.status;
  }
  /** The server's `ready` message of the current (or last) session, once it came. */
  get ready() {
    return this.readyInfo;
  }
  /** The non-empty finals of the current (or last) session so far, oldest first. */
  get finals() {
    return this.text.finals;
  }
  /** The live partial, or null. */
  get partial() {
    return this.text.partial;
  }
  /** The finals so far and the live partial as one string: the simplest thing to show. */
  get transcript() {
    return this.text.text;
  }
  /** The last error reported, or null. */
  get error() {
    return this.lastError;
  }
  /** Seconds of audio this session dropped because the network could not keep up. */
  get droppedSeconds() {
    const s = this.current;
    const rate = this.readyInfo?.sampleRate ?? TARGET_RATE;
    return s ? s.droppedBytes / 2 / rate : 0;
  }
  /**
   * Ask for the microphone (unless `{stream}` is given), open `/ws` and resolve with the server's
   * `ready` once audio flows. Call it from a click or key handler: browsers start audio only after
   * a user gesture. Rejects with the same TranscriberError that the `error` event carries.
   */
  async start(options = {}) {
    if (this.status === "connecting" || this.status === "listening" || this.status === "stopping") {
      const err = new TranscriberError(
        "already_started",
        "start() was called while a session is running; call stop() first.",
        { fatal: false }
      );
      this.emitError(err);
      throw err;
    }
    this.text = new Transcript();
    this.readyInfo = null;
    this.lastError = null;
    this.stopping = null;
    this.setState("connecting");
    let s = null;
    try {
      this.checkSupport(options);
      s = this.newSession(new AudioContext({ latencyHint: "interactive" }), options);
      void s.ctx.resume().catch(() => void 0);
      s.stream = options.stream ?? await this.openMicrophone(s);
      this.throwIfDone(s);
      await this.buildGraph(s);
      this.throwIfDone(s);
      return await this.connect(s);
    } catch (caught) {
      const err = caught instanceof TranscriberError ? caught : new TranscriberError("audio_failed", `Could not start audio capture: ${String(caught)}`, {
        cause: caught
      });
      if (s) this.finish(s, err);
      else {
        this.emitError(err);
        this.setState("closed");
      }
      throw err;
    }
  }
  /**
   * Finalize the utterance in progress now (push-to-talk release): the audio captured so far is
   * sent, then `{"type":"flush"}`. The session goes on.
   */
  flush() {
    const s = this.current;
    if (!s || s.done || this.status !== "listening" || !s.worklet) return;
    s.afterFlush.push("flush");
    s.worklet.port.postMessage("flush");
  }
  /**
   * Stop listening: the microphone is released, the last audio and `{"type":"end"}` are sent, and
   * the promise resolves with every non-empty final once the server has sent them and closed the
   * socket normally (1000). It rejects (with the error also dispatched) if the session ends any
   * other way. Before the server is ready it abandons the session.
   */
  stop() {
    if (this.stopping) return this.stopping;
    const s = this.current;
    if (!s || s.done) return Promise.resolve(this.text.finals);
    if (this.status === "connecting") {
      this.finish(s, aborted());
      return Promise.resolve(this.text.finals);
    }
    this.stopping = new Promise((resolve, reject) => {
      s.stopWaiter = { resolve, reject };
    });
    this.setState("stopping");
    this.emitLevel(0);
    for (const node of s.nodes) if (node !== s.worklet) node.disconnect();
    this.releaseStream(s);
    s.afterFlush.push("end");
    s.worklet?.port.postMessage("flush");
    const ms = this.options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    s.timers.push(
      setTimeout(() => {
        const text = `The server did not finish within ${ms / 1e3} s of stop(); the last finals may be missing.`;
        this.finish(s, new TranscriberError("stop_timeout", text));
      }, ms)
    );
    return this.stopping;
  }
  /** Close at once without waiting for finals (for example when a component unmounts). */
  close() {
    const s = this.current;
    if (!s || s.done) return;
    this.finish(s, this.status === "connecting" ? aborted() : null);
  }
  // -- starting ---------------------------------------------------------------------------------
  checkSupport(options) {
    if (typeof isSecureContext !== "undefined" && !isSecureContext) throw insecureContext();
    if (typeof AudioContext === "undefined" || typeof AudioWorkletNode === "undefined") {
      throw new TranscriberError(
        "audio_unsupported",
        "This browser cannot capture audio for streaming (it lacks AudioWorklet)."
      );
    }
    if (!options.stream && !navigator.mediaDevices?.getUserMedia) {
      throw new TranscriberError(
        "microphone_unsupported",
        "This browser gives pages no access to a microphone."
      );
    }
  }
  newSession(ctx, options) {
    const seconds = this.options.maxBufferedSeconds ?? DEFAULT_MAX_BUFFERED_SECONDS;
    const rate = Math.min(TARGET_RATE, ctx.sampleRate);
    const s = {
      ctx,
      stream: null,
      ownsStream: !options.stream,
      nodes: [],
      worklet: null,
      ws: null,
      opened: false,
      ready: null,
      maxBufferedBytes: Math.max(1, Math.round(seconds * rate * 2)),
      pending: [],
      pendingBytes: 0,
      afterFlush: [],
      backlogged: false,
      droppedBytes: 0,
      serverFatal: null,
      startWaiter: null,
      stopWaiter: null,
      timers: [],
      onTrackEnded: () => this.trackEnded(s),
      done: false,
      endError: null
    };
    this.current = s;
    return s;
  }
  async openMicrophone(s) {
    const audio = this.options.audioConstraints ?? {
      channelCount: 1,
      echoCancellation: true,
      noiseSuppression: true
    };
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio });
    } catch (err) {
      throw microphoneError(err, typeof isSecureContext === "undefined" || isSecureContext);
    }
    if (s.done) stream.getTracks().forEach((track) => track.stop());
    return stream;
  }
  throwIfDone(s) {
    if (s.done) throw s.endError ?? aborted();
  }
  async buildGraph(s) {
    const ctx = s.ctx;
    const stream = s.stream;
    if (stream.getAudioTracks().length === 0) {
      throw new TranscriberError("microphone_not_found", "The stream given to start() has no audio track.");
    }
    for (const track of stream.getAudioTracks()) track.addEventListener("ended", s.onTrackEnded);
    if (ctx.state === "suspended") {
      await Promise.race([ctx.resume(), delay(1e3)]);
      if (ctx.state === "suspended") {
        throw new TranscriberError(
          "audio_blocked",
          "The browser blocked audio until the user interacts with the page: call start() from a click or key handler."
        );
      }
    }
    let moduleUrl = this.options.workletUrl;
    const blobUrl = moduleUrl ? null : URL.createObjectURL(new Blob([pcm_worklet_default], { type: "text/javascript" }));
    moduleUrl = moduleUrl ?? blobUrl;
    try {
      await ctx.audioWorklet.addModule(moduleUrl);
    } catch (err) {
      throw new TranscriberError(
        "audio_failed",
        `Could not load the audio worklet (${moduleUrl.startsWith("blob:") ? "blob URL" : moduleUrl}): ${String(err)}`,
        { cause: err }
      );
    } finally {
      if (blobUrl) URL.revokeObjectURL(blobUrl);
    }
    if (s.done) return;
    const source = new MediaStreamAudioSourceNode(ctx, { mediaStream: stream });
    const worklet = new AudioWorkletNode(ctx, "pcm-downsampler", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { targetRate: TARGET_RATE, frameMs: FRAME_MS }
    });
    worklet.port.onmessage = (event) => this.fromWorklet(s, event.data);
    s.worklet = worklet;
    s.nodes.push(source);
    let head = source;
    const rate = Math.min(TARGET_RATE, ctx.sampleRate);
    if (ctx.sampleRate > rate) {
      const lowpass = new BiquadFilterNode(ctx, { type: "lowpass", frequency: 0.45 * rate });
      s.nodes.push(lowpass);
      head = head.connect(lowpass);
    }
    s.nodes.push(worklet);
    head.connect(worklet).connect(ctx.destination);
  }
  connect(s) {
    return new Promise((resolve, reject) => {
      s.startWaiter = { resolve, reject };
      const rate = Math.min(TARGET_RATE, s.ctx.sampleRate);
      let ws;
      try {
        const url = socketUrl(
          this.options.url,
          { language: this.options.language, token: this.options.token, sampleRate: rate },
          pageHref()
        );
        ws = new WebSocket(url);
      } catch (err) {
        const mixed = err instanceof Error && err.name === "SecurityError";
        reject(
          new TranscriberError(
            mixed ? "insecure_url" : "invalid_url",
            mixed ? `This https page cannot connect to ${this.options.url}: use the server's https address.` : `The server URL is not valid (${this.options.url}): ${String(err)}`,
            { cause: err }
          )
        );
        return;
      }
      ws.binaryType = "arraybuffer";
      s.ws = ws;
      ws.onopen = () => {
        s.opened = true;
        const queued = s.pending.splice(0);
        s.pendingBytes = 0;
        for (const frame of queued) this.sendAudio(s, frame);
      };
      ws.onmessage = (event) => {
        if (typeof event.data === "string") this.fromServer(s, event.data);
      };
      ws.onclose = (event) => this.closed(s, event);
      const ms = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      s.timers.push(
        setTimeout(() => {
          if (s.ready || s.done) return;
          const server = new URL(this.options.url, pageHref()).origin;
          reject(
            new TranscriberError(
              "connect_timeout",
              `The speech server at ${server} did not answer within ${ms / 1e3} s.`
            )
          );
        }, ms)
      );
    });
  }
  // -- running ----------------------------------------------------------------------------------
  fromWorklet(s, data) {
    if (s.done) return;
    if (data === "flushed") {
      const action = s.afterFlush.shift();
      if (action && s.ws && s.ws.readyState === WebSocket.OPEN) s.ws.send(controlMessage(action));
      return;
    }
    if (!(data instanceof ArrayBuffer)) return;
    if (this.status === "connecting" || this.status === "listening") {
      this.emitLevel(levelOf(new Int16Array(data)));
    }
    this.sendAudio(s, data);
  }
  /** Send a frame, or keep it while the socket opens; past the bound, drop it and say so. */
  sendAudio(s, frame) {
    const ws = s.ws;
    if (!ws || ws.readyState === WebSocket.CONNECTING) {
      if (s.pendingBytes + frame.byteLength > s.maxBufferedBytes) this.drop(s, frame.byteLength);
      else {
        s.pending.push(frame);
        s.pendingBytes += frame.byteLength;
      }
      return;
    }
    if (ws.readyState !== WebSocket.OPEN) return;
    const buffered = ws.bufferedAmount;
    const full = s.backlogged ? buffered > s.maxBufferedBytes / 2 : buffered + frame.byteLength > s.maxBufferedBytes;
    if (full) {
      this.drop(s, frame.byteLength);
      return;
    }
    s.backlogged = false;
    ws.send(frame);
  }
  drop(s, bytes) {
    s.droppedBytes += bytes;
    if (s.backlogged) return;
    s.backlogged = true;
    const seconds = this.options.maxBufferedSeconds ?? DEFAULT_MAX_BUFFERED_SECONDS;
    this.emitError(
      new TranscriberError(
        "network_backlog",
        `The network cannot keep up: ${seconds} s of audio wait to be sent, so new audio is dropped until it catches up (words will be missing).`,
        { fatal: false }
      )
    );
  }
  fromServer(s, data) {
    if (s.done) return;
    const msg = parseServerMessage(data);
    switch (msg.type) {
      case "ready": {
        const { type: _type, ...info } = msg;
        s.ready = info;
        this.readyInfo = info;
        this.dispatch("ready", info);
        if (this.status === "connecting") this.setState("listening");
        s.startWaiter?.resolve(info);
        break;
      }
      case "speech_started": {
        const { type: _type, ...detail } = msg;
        this.dispatch("speechstart", detail);
        break;
      }
      case "partial": {
        const { type: _type, ...partial } = msg;
        this.text.applyPartial(partial);
        this.dispatch("partial", partial);
        break;
      }
      case "final": {
        const { type: _type, ...final } = msg;
        this.text.applyFinal(final);
        this.dispatch("final", final);
        break;
      }
      case "error": {
        const err = serverError(msg.code, msg.message);
        if (err.fatal) s.serverFatal = err;
        if (s.ready || !err.fatal) this.emitError(err);
        break;
      }
      case "invalid":
        this.emitError(
          new TranscriberError(
            "invalid_server_message",
            `The server sent a message this client does not understand (${msg.reason}).`,
            { fatal: false }
          )
        );
        break;
      case "unknown":
        break;
    }
  }
  closed(s, event) {
    if (s.done) return;
    s.ws = null;
    if (!s.ready) {
      const reject = (err) => s.startWaiter?.reject(err);
      if (s.serverFatal) reject(s.serverFatal);
      else if (s.opened) reject(closeError(event.code, event.reason));
      else void this.diagnose().then(reject);
      return;
    }
    if (event.code === 1e3) this.finish(s, null);
    else this.finish(s, s.serverFatal ?? closeError(event.code, event.reason));
  }
  /** The socket never opened: find out whether the server is down, refuses the origin or the token. */
  async diagnose() {
    const href = pageHref();
    const server = new URL(this.options.url, href).origin;
    let probe;
    try {
      probe = healthUrl(this.options.url, href);
    } catch {
      return handshakeError({ kind: "unreachable", server });
    }
    const init = { cache: "no-store", credentials: "omit" };
    try {
      const response = await fetch(probe, { ...init, mode: "cors", signal: timeoutSignal(PROBE_TIMEOUT_MS) });
      let ours = false;
      try {
        const body = await response.json();
        ours = typeof body === "object" && body !== null && "status" in body;
      } catch {
        ours = false;
      }
      if (ours) return handshakeError({ kind: "token", tokenGiven: Boolean(this.options.token) });
      return handshakeError({ kind: "refused", server, status: response.status });
    } catch {
    }
    try {
      await fetch(probe, { ...init, mode: "no-cors", signal: timeoutSignal(PROBE_TIMEOUT_MS) });
      const origin = typeof location === "undefined" ? "unknown" : location.origin;
      return handshakeError({ kind: "origin", server, origin });
    } catch {
      return handshakeError({ kind: "unreachable", server });
    }
  }
  trackEnded(s) {
    if (s.done) return;
    const err = new TranscriberError(
      "microphone_ended",
      "The microphone stopped (unplugged, or taken by another application).",
      { fatal: this.status !== "listening" }
    );
    if (this.status === "listening") {
      this.emitError(err);
      this.stop().catch(() => void 0);
    } else if (this.status === "connecting") {
      s.startWaiter?.reject(err);
    }
  }
  // -- ending -----------------------------------------------------------------------------------
  /** End session `s` once: release everything, report `err` (if any), settle the promises. */
  finish(s, err) {
    if (s.done) return;
    s.done = true;
    s.endError = err;
    for (const timer of s.timers) clearTimeout(timer);
    const ws = s.ws;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1e3);
      s.ws = null;
    }
    if (s.worklet) s.worklet.port.onmessage = null;
    for (const node of s.nodes) node.disconnect();
    this.releaseStream(s);
    s.ctx.close().catch(() => void 0);
    this.text.clearPartial();
    if (err) this.emitError(err);
    this.emitLevel(0);
    this.setState("closed");
    if (s.startWaiter) s.startWaiter.reject(err ?? aborted());
    if (s.stopWaiter) {
      if (err) s.stopWaiter.reject(err);
      else s.stopWaiter.resolve(this.text.finals);
    }
  }
  releaseStream(s) {
    const stream = s.stream;
    if (!stream) return;
    for (const track of stream.getTracks()) {
      track.removeEventListener("ended", s.onTrackEnded);
      if (s.ownsStream) track.stop();
    }
  }
  // -- events -----------------------------------------------------------------------------------
  dispatch(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
  emitError(err) {
    if (this.emitted.has(err)) return;
    this.emitted.add(err);
    this.lastError = err;
    this.dispatch("error", err);
  }
  emitLevel(level) {
    this.dispatch("level", level);
  }
  setState(state) {
    if (this.status === state) return;
    this.status = state;
    this.dispatch("state", state);
  }
};
export {
  RealtimeTranscriber,
  TranscriberError
};
