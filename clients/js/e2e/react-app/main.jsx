// The page the browser test builds with Vite to drive useTranscription, as a Lovable app would.
// The query string names the server: ?backend=http://host:port&token=...&language=en
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { useTranscription } from "realtime-stt-client/react";

const query = new URLSearchParams(location.search);

function App() {
  const { state, partial, finals, transcript, start, stop, flush, error, level } = useTranscription({
    url: query.get("backend"),
    language: query.get("language") || "en",
    token: query.get("token") || undefined,
  });
  return (
    <main>
      <button id="start" onClick={async () => (window.startResult = await start())}>Start</button>
      <button id="flush" onClick={flush}>Flush</button>
      <button id="stop" onClick={async () => (window.stopResult = await stop())}>Stop</button>
      <p id="state">{state}</p>
      <meter id="level" min="0" max="1" value={level} />
      <ol id="finals">
        {finals.map((f) => (
          <li key={f.segmentId} data-segment={f.segmentId}>{f.text}</li>
        ))}
      </ol>
      <p id="partial">{partial}</p>
      <p id="transcript">{transcript}</p>
      <p id="error" data-code={error ? error.code : ""}>{error ? error.message : ""}</p>
    </main>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
