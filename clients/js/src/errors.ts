// Every problem a transcriber can meet, as a TranscriberError with a stable `code` and a `message`
// in words a person understands: microphone problems, the connection, the server's error codes
// and its WebSocket close codes.

/** The error that `error` events carry and that `start()` and `stop()` reject with. */
export class TranscriberError extends Error {
  /** Stable code: one of the server's error codes or one of this client's (see the README). */
  readonly code: string;
  /** Whether the session is over because of it (`false`: it goes on, something was lost). */
  readonly fatal: boolean;
  /** The WebSocket close code, when the error is the connection closing. */
  readonly closeCode?: number;
  /** The server's own message, for server error codes. */
  readonly serverMessage?: string;

  constructor(
    code: string,
    message: string,
    options: { fatal?: boolean; closeCode?: number; serverMessage?: string; cause?: unknown } = {},
  ) {
    super(message);
    this.name = "TranscriberError";
    this.code = code;
    this.fatal = options.fatal ?? true;
    if (options.closeCode !== undefined) this.closeCode = options.closeCode;
    if (options.serverMessage !== undefined) this.serverMessage = options.serverMessage;
    if (options.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }

  /** `{code, message, fatal, ...}`: what JSON.stringify and structured logs show. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      code: this.code,
      message: this.message,
      fatal: this.fatal,
    };
    if (this.closeCode !== undefined) out.closeCode = this.closeCode;
    if (this.serverMessage !== undefined) out.serverMessage = this.serverMessage;
    return out;
  }
}

interface Known {
  text: string;
  /** The server closes the session after this error. */
  fatal: boolean;
}

const PROTOCOL = "The server did not understand a message from this client (a client bug).";
const PART_LOST = "Part of an utterance could not be transcribed; its final holds what was heard.";

/** The server's error codes (README, "Errors and close codes") in words. */
export const SERVER_ERRORS: Readonly<Record<string, Known>> = {
  invalid_json: { text: PROTOCOL, fatal: false },
  unknown_message: { text: PROTOCOL, fatal: false },
  invalid_message: { text: PROTOCOL, fatal: false },
  already_ended: { text: "The session was already ending.", fatal: false },
  audio_after_end: { text: "Audio sent after the end of the session was ignored.", fatal: false },
  frame_too_large: {
    text: "The browser sent more audio at once than the server accepts.",
    fatal: true,
  },
  invalid_sample_rate: { text: "The server did not accept the audio format.", fatal: true },
  invalid_language: { text: "The server does not accept that language.", fatal: true },
  busy: {
    text: "The server is busy with other sessions. Please try again in a moment.",
    fatal: true,
  },
  engine_not_ready: {
    text: "The speech engine is still starting up. Please try again in a few seconds.",
    fatal: true,
  },
  shutting_down: {
    text: "The server is restarting. Please try again in a moment.",
    fatal: true,
  },
  session_too_long: {
    text: "The session reached its maximum length; start a new one to go on.",
    fatal: true,
  },
  client_too_slow: {
    text: "The connection could not keep up, so the server ended the session.",
    fatal: true,
  },
  engine_failure: { text: "The speech engine failed. Please try again.", fatal: true },
  engine_stopped: {
    text: "The speech engine stopped unexpectedly. Please try again.",
    fatal: true,
  },
  engine_overloaded: {
    text: "The speech engine is overloaded. Please try again shortly.",
    fatal: true,
  },
  upstream_auth_failed: {
    text: "The transcription service refused the server's API key.",
    fatal: true,
  },
  upstream_unavailable: {
    text: "The server could not reach the transcription service. Please try again later.",
    fatal: true,
  },
  upstream_closed: {
    text: "The transcription service ended the session. Please try again.",
    fatal: true,
  },
  transcription_failed: {
    text: "One utterance could not be transcribed; its text is missing.",
    fatal: false,
  },
  upstream_lost: { text: PART_LOST, fatal: false },
  final_timeout: { text: PART_LOST, fatal: false },
};

/** A server `error` message as a TranscriberError; unknown codes keep the server's words. */
export function serverError(code: string, message: string): TranscriberError {
  const known = SERVER_ERRORS[code];
  if (known) return new TranscriberError(code, known.text, { fatal: known.fatal, serverMessage: message });
  if (code.startsWith("upstream_error:")) {
    const upstream = code.slice("upstream_error:".length);
    const text = `The transcription service reported an error (${upstream}): ${message}`;
    return new TranscriberError(code, text, { fatal: false, serverMessage: message });
  }
  return new TranscriberError(code, `Server error (${code}): ${message}`, {
    fatal: false,
    serverMessage: message,
  });
}

/** WebSocket close codes other than 1000 (the normal end), in words. */
export const CLOSE_TEXT: Readonly<Record<number, string>> = {
  1001: "The server is restarting or going away; the session ended. Please start again.",
  1006: "The connection to the speech server was lost.",
  1008: "The server ended the session (not allowed, or the connection was too slow).",
  1009: "The browser sent more audio at once than the server accepts.",
  1011: "The speech engine failed. Please try again.",
  1012: "The server is restarting. Please try again in a moment.",
  1013: "The server is busy or still starting. Please try again in a moment.",
};

/** The connection closed when it should not have (code `connection_closed`). */
export function closeError(closeCode: number, reason = ""): TranscriberError {
  const words =
    CLOSE_TEXT[closeCode] ?? `The connection to the speech server closed unexpectedly (${closeCode}).`;
  const text = reason ? `${words} (${reason})` : words;
  return new TranscriberError("connection_closed", text, { closeCode });
}

/**
 * A failure of getUserMedia (or of the audio graph) in words. `secure` is the page's
 * `isSecureContext`: without it browsers hide the microphone altogether.
 */
export function microphoneError(err: unknown, secure: boolean): TranscriberError {
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
        { cause: err },
      );
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return new TranscriberError("microphone_not_found", "No microphone was found.", {
        cause: err,
      });
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return new TranscriberError(
        "microphone_busy",
        "The microphone could not be opened: another application may be using it.",
        { cause: err },
      );
    default:
      return new TranscriberError(
        "microphone_failed",
        `Could not start the microphone: ${detail || name || "unknown error"}`,
        { cause: err },
      );
  }
}

function isNamed(value: unknown): value is { name: string; message: string } {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { name?: unknown }).name === "string" &&
    typeof (value as { message?: unknown }).message === "string"
  );
}

export function insecureContext(): TranscriberError {
  return new TranscriberError(
    "insecure_context",
    "The microphone needs a secure page: open it over HTTPS (or on localhost).",
  );
}

/** Why a WebSocket that never opened failed, from what probing `/healthz` found. */
export type HandshakeFailure =
  | { kind: "unreachable"; server: string }
  | { kind: "origin"; server: string; origin: string }
  | { kind: "token"; tokenGiven: boolean }
  | { kind: "refused"; server: string; status: number };

export function handshakeError(failure: HandshakeFailure): TranscriberError {
  switch (failure.kind) {
    case "unreachable":
      return new TranscriberError(
        "server_unreachable",
        `Could not reach the speech server at ${failure.server}: check the address and that it is running.`,
        { closeCode: 1006 },
      );
    case "origin":
      return new TranscriberError(
        "origin_not_allowed",
        `The speech server at ${failure.server} does not allow this page's origin (${failure.origin}): add it to the server's ALLOWED_ORIGINS.`,
        { closeCode: 1006 },
      );
    case "token":
      return new TranscriberError(
        "unauthorized",
        failure.tokenGiven
          ? "The speech server refused the API token: check the token option."
          : "The speech server requires an API token: pass it as the token option.",
        { closeCode: 1006 },
      );
    case "refused":
      return new TranscriberError(
        "handshake_failed",
        `The server at ${failure.server} did not accept the WebSocket connection (its /healthz answered HTTP ${failure.status}); a proxy in front of it may not pass WebSockets on.`,
        { closeCode: 1006 },
      );
  }
}
