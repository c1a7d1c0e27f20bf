// Builds the React test page against a build of this package (CLIENT_LIB: the folder where
// `node build.mjs --out` wrote client.js and react.js), with React from this package's devDependencies.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = dirname(fileURLToPath(import.meta.url));
const lib = process.env.CLIENT_LIB;
if (!lib) throw new Error("set CLIENT_LIB to the folder of a built client (node build.mjs --out DIR)");

export default defineConfig({
  root: here,
  base: "./",
  logLevel: "warn",
  esbuild: { jsx: "automatic" },
  resolve: {
    alias: [
      { find: /^realtime-stt-client\/react$/, replacement: join(lib, "react.js") },
      { find: /^realtime-stt-client$/, replacement: join(lib, "client.js") },
    ],
    dedupe: ["react", "react-dom"],
  },
  build: { emptyOutDir: true, minify: false, reportCompressedSize: false },
});
