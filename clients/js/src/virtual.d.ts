// The worklet's built code, inlined by build.mjs (esbuild plugin "inline-worklet").
declare module "virtual:pcm-worklet" {
  const source: string;
  export default source;
}
