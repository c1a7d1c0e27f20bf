// The built client that the server serves (src/realtime_stt/static/) is committed: it must be
// exactly what the sources build to now.
import { describe, expect, it } from "vitest";
import { SERVED_FILES, bundle, readServed } from "../build.mjs";

describe("the committed build", () => {
  it("is up to date with the sources (else run `make jsbuild` and commit)", async () => {
    const built: Record<string, string> = await bundle();
    for (const name of SERVED_FILES) {
      const committed = readServed(name);
      expect(committed === built[name], `${name} is stale: run \`make jsbuild\``).toBe(true);
    }
  });

  it("is one ES module with no imports, exporting the transcriber", async () => {
    const built: Record<string, string> = await bundle();
    expect(built["client.js"]).not.toMatch(/^\s*import\s/m);
    expect(built["client.js"]).toMatch(/export\s*\{[^}]*RealtimeTranscriber/);
    expect(built["react.js"]).toMatch(/from "react"/);
    expect(built["react.js"]).toMatch(/from "\.\/client\.js"/);
    expect(built["pcm-worklet.js"]).toMatch(/registerProcessor\("pcm-downsampler"/);
  });
});
