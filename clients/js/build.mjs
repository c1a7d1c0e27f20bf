// Builds the package with esbuild: dist/client.js (one ES module, the worklet inlined as a string),
// dist/react.js (the hook; imports ./client.js and react) and dist/pcm-worklet.js (the worklet on
// its own, for pages whose CSP forbids blob: URLs). tsc writes the declarations (npm run build).
//
//   node build.mjs            write dist/
//   node build.mjs --served   also write the files the server serves (client.js, pcm-worklet.js)
//                             into src/realtime_stt/static/, which are committed
//   node build.mjs --out DIR  write into DIR instead of dist/
//   node build.mjs --size     print client.js's size minified and gzipped

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = (await import("./package.json", { with: { type: "json" } })).default;

/** Where the server's static files live, relative to this package. */
export const SERVED_DIR = join(here, "..", "..", "src", "realtime_stt", "static");
/** The built files the server serves beside its demo page. */
export const SERVED_FILES = ["client.js", "pcm-worklet.js"];

const banner = `// ${pkg.name} ${pkg.version} (${pkg.license}): built by clients/js/build.mjs from clients/js/src; edit the sources, not this file.`;

const common = {
  bundle: true,
  write: false,
  format: "esm",
  platform: "browser",
  target: "es2020",
  charset: "utf8",
  legalComments: "none",
  logLevel: "silent",
};

async function one(options) {
  const result = await esbuild.build({ ...common, ...options });
  return result.outputFiles[0].text;
}

/** Build every output in memory: {"client.js": text, "react.js": text, "pcm-worklet.js": text}. */
export async function bundle({ minify = false } = {}) {
  const workletEntry = { entryPoints: [join(here, "src", "worklet.ts")] };
  const worklet = await one({ ...workletEntry, minify });
  // Inlined as a string, the worklet is opaque anyway: always minified there.
  const inlined = minify ? worklet : await one({ ...workletEntry, minify: true });
  const inlineWorklet = {
    name: "inline-worklet",
    setup(build) {
      build.onResolve({ filter: /^virtual:pcm-worklet$/ }, () => ({
        path: "pcm-worklet",
        namespace: "inline-worklet",
      }));
      build.onLoad({ filter: /.*/, namespace: "inline-worklet" }, () => ({
        contents: `export default ${JSON.stringify(inlined)};`,
        loader: "js",
      }));
    },
  };
  const client = await one({
    entryPoints: [join(here, "src", "client.ts")],
    plugins: [inlineWorklet],
    minify,
  });
  const clientExternal = {
    name: "client-external",
    setup(build) {
      build.onResolve({ filter: /^\.\/client\.js$/ }, () => ({ path: "./client.js", external: true }));
    },
  };
  const react = await one({
    entryPoints: [join(here, "src", "react.ts")],
    plugins: [clientExternal],
    external: ["react"],
    minify,
  });
  const withBanner = (text) => (minify ? text : `${banner}\n${text}`);
  return {
    "client.js": withBanner(client),
    "react.js": withBanner(react),
    "pcm-worklet.js": withBanner(worklet),
  };
}

/** The committed copy of a served file, or null when it is missing. */
export function readServed(name) {
  try {
    return readFileSync(join(SERVED_DIR, name), "utf8");
  } catch {
    return null;
  }
}

function writeAll(files, dir, names = Object.keys(files)) {
  mkdirSync(dir, { recursive: true });
  for (const name of names) writeFileSync(join(dir, name), files[name]);
}

async function main(args) {
  if (args.includes("--size")) {
    const min = (await bundle({ minify: true }))["client.js"];
    const bytes = Buffer.byteLength(min);
    const gz = gzipSync(min, { level: 9 }).length;
    console.log(`client.js: ${bytes} bytes minified, ${gz} bytes minified and gzipped`);
    return;
  }
  const files = await bundle();
  const at = args.indexOf("--out");
  writeAll(files, at >= 0 ? args[at + 1] : join(here, "dist"));
  if (args.includes("--served")) writeAll(files, SERVED_DIR, SERVED_FILES);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
