// realtime-stt browser client: microphone -> AudioWorklet (16 kHz PCM16 frames of 100 ms) ->
// WebSocket /ws -> typed events. No dependencies; the worklet is inlined and loaded from a Blob URL.
//
//   const t = new RealtimeTranscriber({ url: "https://backend.example", language: "sv" });
//   t.addEventListener("final", (e) => console.log(e.detail.text));
//   await t.start();               // from a click: asks for the microphone, opens /ws
//   const finals = await t.stop(); // every final, after the server's normal close (1000)

import workletSource from "virtual:pcm-worklet";
import { FRAME_MS, TARGET_RATE, levelOf } from "./audio.js";
import {
  TranscriberError,
  closeError,
  handshakeError,
  insecureContext,
  microphoneError,
  serverError,
} from "./errors.js";
import type { FinalSegment, PartialSegment, ReadyInfo, SpeechStart } from "./protocol.js";
import { controlMessage, healthUrl, parseServerMessage, socketUrl } from "./protocol.js";
import { Transcript } from "./transcript.js";

export { TranscriberError } from "./errors.js";
export type { FinalSegment, PartialSegment, ReadyInfo, ServerError, SpeechStart, Word } from "./protocol.js";

/** Where a transcriber is: `idle` (never started), then `connecting`, `listening`, `stopping`, `closed`. */
export type TranscriberState = "idle" | "connecting" | "listening" | "stopping" | "closed";

export interface TranscriberOptions {
  /** The server's http(s) base URL (`https://backend.example`); the `/ws` URL is derived from it. */
  url: string;
  /** ISO 639-1 code of the speech (`sv`, `en`, ...); the server's default when left out. */
  language?: string;
  /** The server's API token, when it requires one. */
  token?: string;
  /** How long the connection may take, from opening the socket to the server's `ready`. Default 8000. */
  connectTimeoutMs?: number;
  /** How long `stop()` waits for the last finals and the server's close. Default 30000. */
  stopTimeoutMs?: number;
  /** Seconds of audio that may wait unsent (`bufferedAmount`) before audio is dropped and a
   * `network_backlog` error reported. Default 5. */
  maxBufferedSeconds?: number;
  /** Load the worklet from this URL instead of a Blob URL (for pages whose CSP forbids `blob:`);
   * the server serves it beside the module, at `/pcm-worklet.js`. */
  workletUrl?: string;
  /** Constraints for getUserMedia's audio track. Default: mono, echo cancellation and noise
   * suppression on. */
  audioConstraints?: MediaTrackConstraints;
}

export interface StartOptions {
  /** Transcribe this stream instead of asking for the microphone; it is not stopped at the end. */
  stream?: MediaStream;
}

/** The events a transcriber dispatches, each a CustomEvent with a typed `detail`. */
export interface TranscriberEventMap {
  ready: CustomEvent<ReadyInfo>;
  speechstart: CustomEvent<SpeechStart>;
  partial: CustomEvent<PartialSegment>;
  final: CustomEvent<FinalSegment>;
  error: CustomEvent<TranscriberError>;
  state: CustomEvent<TranscriberState>;
  level: CustomEvent<number>;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: TranscriberError): void;
}

/** One run from start() to closed: the audio graph, the socket and what is pending. */
interface Session {
  ctx: AudioContext;
  stream: MediaStream | null;
  ownsStream: boolean;
  nodes: AudioNode[];
  worklet: AudioWorkletNode | null;
  ws: WebSocket | null;
  opened: boolean;
  ready: ReadyInfo | null;
  maxBufferedBytes: number;
  /** Audio captured before the socket opened. */
  pending: ArrayBuffer[];
  pendingBytes: number;
  /** Control messages to send once the worklet has handed over every sample ("flushed"). */
  afterFlush: ("flush" | "end")[];
  backlogged: boolean;
  droppedBytes: number;
  /** A server error after which the server closes: the close then reports nothing more. */
  serverFatal: TranscriberError | null;
  startWaiter: Waiter<ReadyInfo> | null;
  stopWaiter: Waiter<FinalSegment[]> | null;
  timers: ReturnType<typeof setTimeout>[];
  onTrackEnded: () => void;
  done: boolean;
  endError: TranscriberError | null;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 8000;
const DEFAULT_STOP_TIMEOUT_MS = 30000;
const DEFAULT_MAX_BUFFERED_SECONDS = 5;
const PROBE_TIMEOUT_MS = 3000;

function aborted(): TranscriberError {
  return new TranscriberError("aborted", "The session was closed before the server was ready.");
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function pageHref(): string | undefined {
  return typeof location === "undefined" ? undefined : location.href;
}

function timeoutSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), ms);
  return controller.signal;
}

export interface RealtimeTranscriber {
  addEventListener<K extends keyof TranscriberEventMap>(
    type: K,
    listener: (this: RealtimeTranscriber, event: TranscriberEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof TranscriberEventMap>(
    type: K,
    listener: (this: RealtimeTranscriber, event: TranscriberEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/**
 * Streams the microphone (or a MediaStream) to a realtime-stt server and dispatches what comes
 * back as events: `ready`, `speechstart`, `partial`, `final`, `error`, `state` and `level`.
 * One session at a time; after `closed`, `start()` begins a new one.
 */
export class RealtimeTranscriber extends EventTarget {
  readonly options: Readonly<TranscriberOptions>;
  private current: Session | null = null;
  private status: TranscriberState = "idle";
  private text = new Transcript();
  private readyInfo: ReadyInfo | null = null;
  private lastError: TranscriberError | null = null;
  private stopping: Promise<FinalSegment[]> | null = null;
  private readonly emitted = new WeakSet<TranscriberError>();

  constructor(options: TranscriberOptions) {
    super();
    if (!options || typeof options.url !== "string" || options.url === "") {
      throw new TypeError("RealtimeTranscriber needs {url}: the server's http(s) base URL");
    }
    this.options = { ...options };
  }

  /** `idle`, `connecting`, `listening`, `stopping` or `closed`. */
  get state(): TranscriberState {
    return this.status;
  }

  /** The server's `ready` message of the current (or last) session, once it came. */
  get ready(): ReadyInfo | null {
    return this.readyInfo;
  }

  /** The non-empty finals of the current (or last) session so far, oldest first. */
  get finals(): FinalSegment[] {
    return this.text.finals;
  }

  /** The live partial, or null. */
  get partial(): PartialSegment | null {
    return this.text.partial;
  }

  /** The finals so far and the live partial as one string: the simplest thing to show. */
  get transcript(): string {
    return this.text.text;
  }

  /** The last error reported, or null. */
  get error(): TranscriberError | null {
    return this.lastError;
  }

  /** Seconds of audio this session dropped because the network could not keep up. */
  get droppedSeconds(): number {
    const s = this.current;
    const rate = this.readyInfo?.sampleRate ?? TARGET_RATE;
    return s ? s.droppedBytes / 2 / rate : 0;
  }

  /**
   * Ask for the microphone (unless `{stream}` is given), open `/ws` and resolve with the server's
   * `ready` once audio flows. Call it from a click or key handler: browsers start audio only after
   * a user gesture. Rejects with the same TranscriberError that the `error` event carries.
   */
  async start(options: StartOptions = {}): Promise<ReadyInfo> {
    if (this.status === "connecting" || this.status === "listening" || this.status === "stopping") {
      const err = new TranscriberError(
        "already_started",
        "start() was called while a session is running; call stop() first.",
        { fatal: false },
      );
      this.emitError(err);
      throw err;
    }
    this.text = new Transcript();
    this.readyInfo = null;
    this.lastError = null;
    this.stopping = null;
    this.setState("connecting");
    let s: Session | null = null;
    try {
      this.checkSupport(options);
      s = this.newSession(new AudioContext({ latencyHint: "interactive" }), options);
      // Created inside the caller's gesture; resume() now keeps that permission for later.
      void s.ctx.resume().catch(() => undefined);
      s.stream = options.stream ?? (await this.openMicrophone(s));
      this.throwIfDone(s);
      await this.buildGraph(s);
      this.throwIfDone(s);
      return await this.connect(s);
    } catch (caught) {
      const err =
        caught instanceof TranscriberError
          ? caught
          : new TranscriberError("audio_failed", `Could not start audio capture: ${String(caught)}`, {
              cause: caught,
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
  flush(): void {
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
  stop(): Promise<FinalSegment[]> {
    if (this.stopping) return this.stopping;
    const s = this.current;
    if (!s || s.done) return Promise.resolve(this.text.finals);
    if (this.status === "connecting") {
      this.finish(s, aborted());
      return Promise.resolve(this.text.finals);
    }
    this.stopping = new Promise<FinalSegment[]>((resolve, reject) => {
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
        const text = `The server did not finish within ${ms / 1000} s of stop(); the last finals may be missing.`;
        this.finish(s, new TranscriberError("stop_timeout", text));
      }, ms),
    );
    return this.stopping;
  }

  /** Close at once without waiting for finals (for example when a component unmounts). */
  close(): void {
    const s = this.current;
    if (!s || s.done) return;
    this.finish(s, this.status === "connecting" ? aborted() : null);
  }

  // -- starting ---------------------------------------------------------------------------------

  private checkSupport(options: StartOptions): void {
    if (typeof isSecureContext !== "undefined" && !isSecureContext) throw insecureContext();
    if (typeof AudioContext === "undefined" || typeof AudioWorkletNode === "undefined") {
      throw new TranscriberError(
        "audio_unsupported",
        "This browser cannot capture audio for streaming (it lacks AudioWorklet).",
      );
    }
    if (!options.stream && !navigator.mediaDevices?.getUserMedia) {
      throw new TranscriberError(
        "microphone_unsupported",
        "This browser gives pages no access to a microphone.",
      );
    }
  }

  private newSession(ctx: AudioContext, options: StartOptions): Session {
    const seconds = this.options.maxBufferedSeconds ?? DEFAULT_MAX_BUFFERED_SECONDS;
    const rate = Math.min(TARGET_RATE, ctx.sampleRate);
    const s: Session = {
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
      endError: null,
    };
    this.current = s;
    return s;
  }

  private async openMicrophone(s: Session): Promise<MediaStream> {
    const audio = this.options.audioConstraints ?? {
      channelCount: 1,
      echoCancellation: true,
      noiseSuppression: true,
    };
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio });
    } catch (err) {
      throw microphoneError(err, typeof isSecureContext === "undefined" || isSecureContext);
    }
    if (s.done) stream.getTracks().forEach((track) => track.stop());
    return stream;
  }

  private throwIfDone(s: Session): void {
    if (s.done) throw s.endError ?? aborted();
  }

  private async buildGraph(s: Session): Promise<void> {
    const ctx = s.ctx;
    const stream = s.stream as MediaStream;
    if (stream.getAudioTracks().length === 0) {
      throw new TranscriberError("microphone_not_found", "The stream given to start() has no audio track.");
    }
    for (const track of stream.getAudioTracks()) track.addEventListener("ended", s.onTrackEnded);
    if (ctx.state === "suspended") {
      await Promise.race([ctx.resume(), delay(1000)]);
      if ((ctx.state as AudioContextState) === "suspended") {
        throw new TranscriberError(
          "audio_blocked",
          "The browser blocked audio until the user interacts with the page: call start() from a click or key handler.",
        );
      }
    }
    let moduleUrl = this.options.workletUrl;
    const blobUrl = moduleUrl
      ? null
      : URL.createObjectURL(new Blob([workletSource], { type: "text/javascript" }));
    moduleUrl = moduleUrl ?? (blobUrl as string);
    try {
      await ctx.audioWorklet.addModule(moduleUrl);
    } catch (err) {
      throw new TranscriberError(
        "audio_failed",
        `Could not load the audio worklet (${moduleUrl.startsWith("blob:") ? "blob URL" : moduleUrl}): ${String(err)}`,
        { cause: err },
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
      processorOptions: { targetRate: TARGET_RATE, frameMs: FRAME_MS },
    });
    worklet.port.onmessage = (event: MessageEvent) => this.fromWorklet(s, event.data);
    s.worklet = worklet;
    s.nodes.push(source);
    let head: AudioNode = source;
    const rate = Math.min(TARGET_RATE, ctx.sampleRate);
    if (ctx.sampleRate > rate) {
      // Low-pass below the new Nyquist before the worklet's averaging decimator.
      const lowpass = new BiquadFilterNode(ctx, { type: "lowpass", frequency: 0.45 * rate });
      s.nodes.push(lowpass);
      head = head.connect(lowpass);
    }
    s.nodes.push(worklet);
    // The worklet outputs silence; connecting it to the destination keeps the browser running it.
    head.connect(worklet).connect(ctx.destination);
  }

  private connect(s: Session): Promise<ReadyInfo> {
    return new Promise<ReadyInfo>((resolve, reject) => {
      s.startWaiter = { resolve, reject };
      const rate = Math.min(TARGET_RATE, s.ctx.sampleRate);
      let ws: WebSocket;
      try {
        const url = socketUrl(
          this.options.url,
          { language: this.options.language, token: this.options.token, sampleRate: rate },
          pageHref(),
        );
        ws = new WebSocket(url);
      } catch (err) {
        const mixed = err instanceof Error && err.name === "SecurityError";
        reject(
          new TranscriberError(
            mixed ? "insecure_url" : "invalid_url",
            mixed
              ? `This https page cannot connect to ${this.options.url}: use the server's https address.`
              : `The server URL is not valid (${this.options.url}): ${String(err)}`,
            { cause: err },
          ),
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
      ws.onmessage = (event: MessageEvent) => {
        if (typeof event.data === "string") this.fromServer(s, event.data);
      };
      ws.onclose = (event: CloseEvent) => this.closed(s, event);
      const ms = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      s.timers.push(
        setTimeout(() => {
          if (s.ready || s.done) return;
          const server = new URL(this.options.url, pageHref()).origin;
          reject(
            new TranscriberError(
              "connect_timeout",
              `The speech server at ${server} did not answer within ${ms / 1000} s.`,
            ),
          );
        }, ms),
      );
    });
  }

  // -- running ----------------------------------------------------------------------------------

  private fromWorklet(s: Session, data: unknown): void {
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
  private sendAudio(s: Session, frame: ArrayBuffer): void {
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
    const full = s.backlogged
      ? buffered > s.maxBufferedBytes / 2 // resume only once half the backlog has drained
      : buffered + frame.byteLength > s.maxBufferedBytes;
    if (full) {
      this.drop(s, frame.byteLength);
      return;
    }
    s.backlogged = false;
    ws.send(frame);
  }

  private drop(s: Session, bytes: number): void {
    s.droppedBytes += bytes;
    if (s.backlogged) return;
    s.backlogged = true;
    const seconds = this.options.maxBufferedSeconds ?? DEFAULT_MAX_BUFFERED_SECONDS;
    this.emitError(
      new TranscriberError(
        "network_backlog",
        `The network cannot keep up: ${seconds} s of audio wait to be sent, so new audio is dropped until it catches up (words will be missing).`,
        { fatal: false },
      ),
    );
  }

  private fromServer(s: Session, data: string): void {
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
        // Before ready, a fatal error is what start() rejects with once the server closes.
        if (s.ready || !err.fatal) this.emitError(err);
        break;
      }
      case "invalid":
        this.emitError(
          new TranscriberError(
            "invalid_server_message",
            `The server sent a message this client does not understand (${msg.reason}).`,
            { fatal: false },
          ),
        );
        break;
      case "unknown":
        break; // a newer server's message type: nothing to do with it
    }
  }

  private closed(s: Session, event: CloseEvent): void {
    if (s.done) return;
    s.ws = null;
    if (!s.ready) {
      const reject = (err: TranscriberError) => s.startWaiter?.reject(err);
      if (s.serverFatal) reject(s.serverFatal);
      else if (s.opened) reject(closeError(event.code, event.reason));
      else void this.diagnose().then(reject);
      return;
    }
    if (event.code === 1000) this.finish(s, null);
    else this.finish(s, s.serverFatal ?? closeError(event.code, event.reason));
  }

  /** The socket never opened: find out whether the server is down, refuses the origin or the token. */
  private async diagnose(): Promise<TranscriberError> {
    const href = pageHref();
    const server = new URL(this.options.url, href).origin;
    let probe: string;
    try {
      probe = healthUrl(this.options.url, href);
    } catch {
      return handshakeError({ kind: "unreachable", server });
    }
    const init: RequestInit = { cache: "no-store", credentials: "omit" };
    try {
      const response = await fetch(probe, { ...init, mode: "cors", signal: timeoutSignal(PROBE_TIMEOUT_MS) });
      let ours = false;
      try {
        const body: unknown = await response.json();
        ours = typeof body === "object" && body !== null && "status" in body;
      } catch {
        ours = false;
      }
      // /healthz shares /ws's origin policy, so this origin is allowed: the token was refused.
      if (ours) return handshakeError({ kind: "token", tokenGiven: Boolean(this.options.token) });
      return handshakeError({ kind: "refused", server, status: response.status });
    } catch {
      // Unreachable, or reachable but not for this origin: an opaque request tells them apart.
    }
    try {
      await fetch(probe, { ...init, mode: "no-cors", signal: timeoutSignal(PROBE_TIMEOUT_MS) });
      const origin = typeof location === "undefined" ? "unknown" : location.origin;
      return handshakeError({ kind: "origin", server, origin });
    } catch {
      return handshakeError({ kind: "unreachable", server });
    }
  }

  private trackEnded(s: Session): void {
    if (s.done) return;
    const err = new TranscriberError(
      "microphone_ended",
      "The microphone stopped (unplugged, or taken by another application).",
      { fatal: this.status !== "listening" },
    );
    if (this.status === "listening") {
      this.emitError(err);
      this.stop().catch(() => undefined);
    } else if (this.status === "connecting") {
      s.startWaiter?.reject(err);
    }
  }

  // -- ending -----------------------------------------------------------------------------------

  /** End session `s` once: release everything, report `err` (if any), settle the promises. */
  private finish(s: Session, err: TranscriberError | null): void {
    if (s.done) return;
    s.done = true;
    s.endError = err;
    for (const timer of s.timers) clearTimeout(timer);
    const ws = s.ws;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000);
      s.ws = null;
    }
    if (s.worklet) s.worklet.port.onmessage = null;
    for (const node of s.nodes) node.disconnect();
    this.releaseStream(s);
    s.ctx.close().catch(() => undefined);
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

  private releaseStream(s: Session): void {
    const stream = s.stream;
    if (!stream) return;
    for (const track of stream.getTracks()) {
      track.removeEventListener("ended", s.onTrackEnded);
      if (s.ownsStream) track.stop();
    }
  }

  // -- events -----------------------------------------------------------------------------------

  private dispatch<K extends keyof TranscriberEventMap>(
    type: K,
    detail: TranscriberEventMap[K]["detail"],
  ): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  private emitError(err: TranscriberError): void {
    if (this.emitted.has(err)) return;
    this.emitted.add(err);
    this.lastError = err;
    this.dispatch("error", err);
  }

  private emitLevel(level: number): void {
    this.dispatch("level", level);
  }

  private setState(state: TranscriberState): void {
    if (this.status === state) return;
    this.status = state;
    this.dispatch("state", state);
  }
}
