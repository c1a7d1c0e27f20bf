import { describe, expect, it } from "vitest";
import {
  CLOSE_TEXT,
  SERVER_ERRORS,
  TranscriberError,
  closeError,
  handshakeError,
  microphoneError,
  serverError,
} from "../src/errors";

// The server's error codes, as the README's "Errors and close codes" table lists them.
const README_CODES = [
  "invalid_json", "unknown_message", "invalid_message", "already_ended", "audio_after_end",
  "frame_too_large", "invalid_sample_rate", "invalid_language", "busy", "engine_not_ready",
  "shutting_down", "session_too_long", "client_too_slow", "engine_failure", "engine_stopped",
  "engine_overloaded", "upstream_auth_failed", "upstream_unavailable", "upstream_closed",
  "transcription_failed", "upstream_lost", "final_timeout",
];

describe("server errors", () => {
  it("has words for every code the server documents", () => {
    expect(Object.keys(SERVER_ERRORS).sort()).toEqual([...README_CODES].sort());
  });

  it("marks the errors after which the server closes as fatal", () => {
    expect(serverError("busy", "x").fatal).toBe(true);
    expect(serverError("engine_failure", "x").fatal).toBe(true);
    expect(serverError("invalid_json", "x").fatal).toBe(false);
    expect(serverError("final_timeout", "x").fatal).toBe(false);
  });

  it("keeps the code and the server's message", () => {
    const err = serverError("busy", "8 sessions open");
    expect(err).toBeInstanceOf(TranscriberError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe("busy");
    expect(err.message).toMatch(/busy/);
    expect(err.serverMessage).toBe("8 sessions open");
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      code: "busy",
      message: err.message,
      fatal: true,
      serverMessage: "8 sessions open",
    });
  });

  it("explains forwarded OpenAI errors and unknown codes with the server's words", () => {
    const upstream = serverError("upstream_error:rate_limit", "slow down");
    expect(upstream.message).toBe("The transcription service reported an error (rate_limit): slow down");
    expect(upstream.fatal).toBe(false);
    const unknown = serverError("brand_new", "something new");
    expect(unknown.message).toBe("Server error (brand_new): something new");
  });
});

describe("close codes", () => {
  it("has words for the codes the server closes with", () => {
    for (const code of [1001, 1006, 1008, 1009, 1011, 1013]) {
      const err = closeError(code);
      expect(err.code).toBe("connection_closed");
      expect(err.closeCode).toBe(code);
      expect(err.message).toBe(CLOSE_TEXT[code]);
    }
  });

  it("names an unknown close code and keeps the reason", () => {
    expect(closeError(4000).message).toMatch(/4000/);
    expect(closeError(1011, "engine down").message).toMatch(/\(engine down\)$/);
  });
});

describe("microphone errors", () => {
  const named = (name: string, message = "") => Object.assign(new Error(message), { name });

  it.each([
    ["NotAllowedError", "microphone_denied"],
    ["SecurityError", "microphone_denied"],
    ["NotFoundError", "microphone_not_found"],
    ["OverconstrainedError", "microphone_not_found"],
    ["NotReadableError", "microphone_busy"],
    ["TypeError", "microphone_failed"],
  ])("%s is %s", (name, code) => {
    const err = microphoneError(named(name, "details"), true);
    expect(err.code).toBe(code);
    expect(err.fatal).toBe(true);
    expect(err.message.length).toBeGreaterThan(10);
  });

  it("says that the page must be secure, whatever the browser said", () => {
    const err = microphoneError(named("NotAllowedError"), false);
    expect(err.code).toBe("insecure_context");
    expect(err.message).toMatch(/HTTPS/);
  });

  it("accepts DOMException-like objects that are not Errors", () => {
    expect(microphoneError({ name: "NotFoundError", message: "none" }, true).code).toBe("microphone_not_found");
  });
});

describe("handshake errors", () => {
  it("tells unreachable, origin and token apart", () => {
    expect(handshakeError({ kind: "unreachable", server: "http://h" }).code).toBe("server_unreachable");
    const origin = handshakeError({ kind: "origin", server: "http://h", origin: "https://app.example" });
    expect(origin.code).toBe("origin_not_allowed");
    expect(origin.message).toMatch(/https:\/\/app\.example.*ALLOWED_ORIGINS/);
    expect(handshakeError({ kind: "token", tokenGiven: true }).message).toMatch(/refused the API token/);
    expect(handshakeError({ kind: "token", tokenGiven: false }).message).toMatch(/requires an API token/);
    expect(handshakeError({ kind: "refused", server: "http://h", status: 404 }).code).toBe("handshake_failed");
  });
});
