// The /ws wire protocol: the socket URL, control messages, and server messages parsed into the
// camelCase details that the transcriber's events carry.

/** The server's `ready` message: sent once, when the session is accepted. */
export interface ReadyInfo {
  sessionId: string;
  engine: string;
  model: string;
  language: string;
  /** The rate of the PCM the server expects from this client. */
  sampleRate: number;
}

/** The live guess for utterance `segmentId`; a later partial or its final replaces it. */
export interface PartialSegment {
  segmentId: number;
  text: string;
  /** Seconds of this session's audio. */
  startS: number;
  endS: number;
}

/** One word of a final, with its times in session seconds. */
export interface Word {
  word: string;
  startS: number;
  endS: number;
}

/** The text of utterance `segmentId`: exactly one per segment. */
export interface FinalSegment extends PartialSegment {
  /** Word times, when the engine gives them (the local engine does, OpenAI does not). */
  words?: Word[];
}

/** The server heard the start of utterance `segmentId`. */
export interface SpeechStart {
  segmentId: number;
  startS: number;
}

/** An `error` message from the server: `code` is stable, `message` is the server's own words. */
export interface ServerError {
  code: string;
  message: string;
  segmentId?: number;
}

export type ServerMessage =
  | ({ type: "ready" } & ReadyInfo)
  | ({ type: "speech_started" } & SpeechStart)
  | ({ type: "partial" } & PartialSegment)
  | ({ type: "final" } & FinalSegment)
  | ({ type: "error" } & ServerError)
  /** A well-formed message of a type this client does not know (a newer server): ignore it. */
  | { type: "unknown"; messageType: string }
  /** Not a server message at all; `reason` says what is wrong. */
  | { type: "invalid"; reason: string };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

class Invalid extends Error {}

function str(obj: Json, key: string): string {
  const value = obj[key];
  if (typeof value !== "string") throw new Invalid(`${key} must be a string`);
  return value;
}

function num(obj: Json, key: string): number {
  const value = obj[key];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Invalid(`${key} must be a number`);
  }
  return value;
}

function span(obj: Json): { startS: number; endS: number } {
  const ts = obj.ts;
  if (!isObject(ts)) throw new Invalid("ts must be an object");
  return { startS: num(ts, "start_s"), endS: num(ts, "end_s") };
}

function words(value: unknown): Word[] {
  if (!Array.isArray(value)) throw new Invalid("words must be a list");
  return value.map((item) => {
    if (!isObject(item)) throw new Invalid("each word must be an object");
    return { word: str(item, "word"), startS: num(item, "start_s"), endS: num(item, "end_s") };
  });
}

/** Parse one text frame from the server. Never throws: a bad frame becomes `{type: "invalid"}`. */
export function parseServerMessage(text: string): ServerMessage {
  let data: unknown;
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
          sampleRate: num(data, "sample_rate"),
        };
      case "speech_started":
        return {
          type: "speech_started",
          segmentId: num(data, "segment_id"),
          startS: span(data).startS,
        };
      case "partial":
        return {
          type: "partial",
          segmentId: num(data, "segment_id"),
          text: str(data, "text"),
          ...span(data),
        };
      case "final": {
        const final: { type: "final" } & FinalSegment = {
          type: "final",
          segmentId: num(data, "segment_id"),
          text: str(data, "text"),
          ...span(data),
        };
        if (data.words !== undefined && data.words !== null) final.words = words(data.words);
        return final;
      }
      case "error": {
        const error: { type: "error" } & ServerError = {
          type: "error",
          code: str(data, "code"),
          message: str(data, "message"),
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

/** The control messages a client sends as text frames. */
export function controlMessage(type: "flush" | "end"): string {
  return JSON.stringify({ type });
}

export interface SocketParams {
  language?: string;
  token?: string;
  sampleRate: number;
}

/**
 * The `/ws` URL for a server base URL: `https://host/prefix` becomes `wss://host/prefix/ws` (and
 * `http` becomes `ws`), with `language`, `sample_rate` and `token` as query parameters. A `ws:` or
 * `wss:` URL is used as is when its path already ends in `/ws`. A relative `base` is resolved
 * against `pageHref` (the page's address).
 */
export function socketUrl(base: string, params: SocketParams, pageHref?: string): string {
  const url = new URL(base, pageHref);
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

/** The server's `/healthz` for the same base URL as {@link socketUrl} (http or https). */
export function healthUrl(base: string, pageHref?: string): string {
  const url = new URL(base, pageHref);
  if (url.protocol === "ws:") url.protocol = "http:";
  else if (url.protocol === "wss:") url.protocol = "https:";
  let path = url.pathname.replace(/\/+$/, "");
  if (path.endsWith("/ws")) path = path.slice(0, -3);
  url.pathname = `${path}/healthz`;
  url.search = "";
  url.hash = "";
  return url.toString();
}
