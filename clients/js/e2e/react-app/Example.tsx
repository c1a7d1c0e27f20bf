// The README's Lovable example, type-checked by `npm run typecheck` against the hook's types.
import { useTranscription } from "realtime-stt-client/react";

export default function Dictation() {
  const { state, partial, finals, start, stop, error } = useTranscription({ url: "https://backend.example", language: "sv" });
  return <div><button onClick={state === "listening" ? stop : start}>{state === "listening" ? "Stop" : "Start"}</button>
    <p>{finals.map((f) => f.text).join(" ")} <i>{partial}</i></p>{error && <p role="alert">{error.message}</p>}</div>;
}
