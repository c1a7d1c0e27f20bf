// useTranscription: RealtimeTranscriber as a React hook. React is a peer dependency (not bundled).
//
//   const { state, partial, finals, start, stop, error } = useTranscription({ url, language: "sv" });
//   <button onClick={state === "listening" ? stop : start}>...</button>

import { useCallback, useEffect, useRef, useState } from "react";
import {
  RealtimeTranscriber,
  TranscriberError,
  type FinalSegment,
  type ReadyInfo,
  type StartOptions,
  type TranscriberOptions,
  type TranscriberState,
} from "./client.js";

export { RealtimeTranscriber, TranscriberError };
export type {
  FinalSegment,
  PartialSegment,
  ReadyInfo,
  StartOptions,
  TranscriberOptions,
  TranscriberState,
  Word,
} from "./client.js";

export interface Transcription {
  /** `idle`, `connecting`, `listening`, `stopping` or `closed`. */
  state: TranscriberState;
  /** The live partial's text ("" when there is none). */
  partial: string;
  /** The non-empty finals so far, oldest first. */
  finals: FinalSegment[];
  /** The finals' text and the partial, joined: the simplest thing to show. */
  transcript: string;
  /** The last error, or null; cleared by start(). */
  error: TranscriberError | null;
  /** Input level 0..1, about ten times a second while listening. */
  level: number;
  /** The server's ready message of the current session, once it came. */
  ready: ReadyInfo | null;
  /** Start a new session (from a click). Resolves true when listening, false when it failed:
   * the reason is in `error`, so `onClick={start}` never leaves a rejected promise behind.
   * Takes `{stream}` to transcribe a MediaStream; an event (from `onClick={start}`) is ignored. */
  start(options?: StartArgument): Promise<boolean>;
  /** Stop and resolve with every final once the server has closed (the finals so far if the
   * session ended with an error, which is then in `error`). */
  stop(): Promise<FinalSegment[]>;
  /** Finalize the utterance in progress now (push-to-talk release). */
  flush(): void;
}

/** What `start` accepts: StartOptions, or the click event it is often handed as a handler. */
export type StartArgument = StartOptions | Event | { nativeEvent: Event };

function isStartOptions(value: unknown): value is StartOptions {
  if (typeof value !== "object" || value === null) return false;
  const stream = (value as { stream?: unknown }).stream;
  return typeof MediaStream !== "undefined" && stream instanceof MediaStream;
}

/**
 * Live transcription in a component. `options` are read when `start()` is called, so they may
 * change between renders; each start() opens a new session, and unmounting closes it.
 */
export function useTranscription(options: TranscriberOptions): Transcription {
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const transcriberRef = useRef<RealtimeTranscriber | null>(null);
  const [state, setState] = useState<TranscriberState>("idle");
  const [partial, setPartial] = useState("");
  const [finals, setFinals] = useState<FinalSegment[]>([]);
  const [transcript, setTranscript] = useState("");
  const [error, setError] = useState<TranscriberError | null>(null);
  const [level, setLevel] = useState(0);
  const [ready, setReady] = useState<ReadyInfo | null>(null);

  useEffect(
    () => () => {
      transcriberRef.current?.close();
      transcriberRef.current = null;
    },
    [],
  );

  const start = useCallback(async (startOptions?: StartArgument): Promise<boolean> => {
    transcriberRef.current?.close();
    const t = new RealtimeTranscriber(optionsRef.current);
    transcriberRef.current = t;
    const mine = () => transcriberRef.current === t;
    const sync = () => {
      if (!mine()) return;
      setPartial(t.partial?.text ?? "");
      setFinals(t.finals);
      setTranscript(t.transcript);
    };
    setPartial("");
    setFinals([]);
    setTranscript("");
    setError(null);
    setLevel(0);
    setReady(null);
    t.addEventListener("state", (e) => {
      if (mine()) setState(e.detail);
      sync();
    });
    t.addEventListener("ready", (e) => mine() && setReady(e.detail));
    t.addEventListener("partial", sync);
    t.addEventListener("final", sync);
    t.addEventListener("error", (e) => mine() && setError(e.detail));
    t.addEventListener("level", (e) => mine() && setLevel(e.detail));
    try {
      await t.start(isStartOptions(startOptions) ? startOptions : {});
      return true;
    } catch {
      return false; // the error event has set `error`
    }
  }, []);

  const stop = useCallback(async (): Promise<FinalSegment[]> => {
    const t = transcriberRef.current;
    if (!t) return [];
    try {
      return await t.stop();
    } catch {
      return t.finals; // the error event has set `error`
    }
  }, []);

  const flush = useCallback(() => transcriberRef.current?.flush(), []);

  return { state, partial, finals, transcript, error, level, ready, start, stop, flush };
}
