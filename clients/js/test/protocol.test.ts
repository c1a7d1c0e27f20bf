import { describe, expect, it } from "vitest";
import { controlMessage, healthUrl, parseServerMessage, socketUrl } from "../src/protocol";

describe("parseServerMessage", () => {
  it("parses ready into camelCase", () => {
    const msg = parseServerMessage(
      '{"type":"ready","session_id":"3f9c","engine":"local","model":"whisper-base (bundled)","language":"sv","sample_rate":16000}',
    );
    expect(msg).toEqual({
      type: "ready",
      sessionId: "3f9c",
      engine: "local",
      model: "whisper-base (bundled)",
      language: "sv",
      sampleRate: 16000,
    });
  });

  it("parses partials, finals with and without words, and speech_started", () => {
    expect(
      parseServerMessage('{"type":"partial","segment_id":0,"text":"Hej, jag","ts":{"start_s":0.52,"end_s":1.74}}'),
    ).toEqual({ type: "partial", segmentId: 0, text: "Hej, jag", startS: 0.52, endS: 1.74 });
    expect(
      parseServerMessage(
        '{"type":"final","segment_id":2,"text":"Hej.","ts":{"start_s":0.5,"end_s":2.6},"words":[{"word":"Hej.","start_s":0.5,"end_s":0.9}]}',
      ),
    ).toEqual({
      type: "final",
      segmentId: 2,
      text: "Hej.",
      startS: 0.5,
      endS: 2.6,
      words: [{ word: "Hej.", startS: 0.5, endS: 0.9 }],
    });
    const bare = parseServerMessage('{"type":"final","segment_id":3,"text":"","ts":{"start_s":1,"end_s":1}}');
    expect(bare).toEqual({ type: "final", segmentId: 3, text: "", startS: 1, endS: 1 });
    expect("words" in bare).toBe(false);
    expect(
      parseServerMessage('{"type":"speech_started","segment_id":1,"ts":{"start_s":3.2,"end_s":3.2}}'),
    ).toEqual({ type: "speech_started", segmentId: 1, startS: 3.2 });
  });

  it("parses errors, with the segment when there is one", () => {
    expect(parseServerMessage('{"type":"error","code":"busy","message":"too many sessions"}')).toEqual({
      type: "error",
      code: "busy",
      message: "too many sessions",
    });
    expect(
      parseServerMessage('{"type":"error","code":"final_timeout","message":"late","segment_id":4}'),
    ).toMatchObject({ segmentId: 4 });
  });

  it("passes over message types it does not know (a newer server)", () => {
    expect(parseServerMessage('{"type":"usage","seconds":3}')).toEqual({ type: "unknown", messageType: "usage" });
  });

  it.each([
    ["not json", "not JSON"],
    ["[1,2]", "not a JSON object"],
    ['{"kind":"ready"}', "type must be a string"],
    ['{"type":"partial","segment_id":"0","text":"x","ts":{"start_s":0,"end_s":1}}', "partial: segment_id must be a number"],
    ['{"type":"final","segment_id":0,"text":"x"}', "final: ts must be an object"],
    ['{"type":"final","segment_id":0,"text":"x","ts":{"start_s":0,"end_s":1},"words":[1]}', "final: each word must be an object"],
  ])("reports %s as invalid", (text, reason) => {
    expect(parseServerMessage(text)).toEqual({ type: "invalid", reason });
  });
});

describe("socketUrl", () => {
  it("derives ws(s) from http(s) and adds the parameters", () => {
    expect(socketUrl("https://backend.example", { language: "sv", token: "t 1", sampleRate: 16000 })).toBe(
      "wss://backend.example/ws?language=sv&sample_rate=16000&token=t+1",
    );
    expect(socketUrl("http://127.0.0.1:8000/", { sampleRate: 8000 })).toBe(
      "ws://127.0.0.1:8000/ws?sample_rate=8000",
    );
  });

  it("keeps a path prefix and accepts a /ws URL as it is", () => {
    expect(socketUrl("https://host/stt/", { sampleRate: 16000 })).toBe("wss://host/stt/ws?sample_rate=16000");
    expect(socketUrl("wss://host/stt/ws", { sampleRate: 16000 })).toBe("wss://host/stt/ws?sample_rate=16000");
  });

  it("resolves a relative URL against the page", () => {
    expect(socketUrl("/", { sampleRate: 16000 }, "https://app.example/demo/?x=1")).toBe(
      "wss://app.example/ws?sample_rate=16000",
    );
  });

  it("refuses other schemes", () => {
    expect(() => socketUrl("ftp://host", { sampleRate: 16000 })).toThrow(TypeError);
  });
});

describe("healthUrl and control messages", () => {
  it("finds /healthz beside /ws", () => {
    expect(healthUrl("https://host/stt")).toBe("https://host/stt/healthz");
    expect(healthUrl("wss://host/ws?token=x")).toBe("https://host/healthz");
    expect(healthUrl("http://127.0.0.1:8000/")).toBe("http://127.0.0.1:8000/healthz");
  });

  it("writes the control messages", () => {
    expect(controlMessage("flush")).toBe('{"type":"flush"}');
    expect(controlMessage("end")).toBe('{"type":"end"}');
  });
});
