import { describe, expect, it } from "vitest";
import {
  AreaDownsampler,
  Pcm16Framer,
  floatToPcm16,
  frameSamples,
  levelOf,
  mixDown,
} from "../src/audio";

function sine(rate: number, seconds: number, frequency: number, amplitude = 0.5): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * frequency * i) / rate);
  return out;
}

function downsample(input: Float32Array, inRate: number, blocks: number[] = [128]): number[] {
  const resampler = new AreaDownsampler(inRate);
  const out: number[] = [];
  let at = 0;
  let b = 0;
  while (at < input.length) {
    const n = blocks[b++ % blocks.length];
    resampler.process(input.subarray(at, at + n), (x) => out.push(x));
    at += n;
  }
  return out;
}

/** Amplitude of the best-fitting sinusoid at `frequency` and the RMS of what it leaves. */
function fit(samples: number[], rate: number, frequency: number): { amplitude: number; residual: number } {
  let ss = 0;
  let sc = 0;
  let cc = 0;
  let ys = 0;
  let yc = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = Math.sin((2 * Math.PI * frequency * i) / rate);
    const c = Math.cos((2 * Math.PI * frequency * i) / rate);
    ss += s * s;
    sc += s * c;
    cc += c * c;
    ys += samples[i] * s;
    yc += samples[i] * c;
  }
  const det = ss * cc - sc * sc;
  const a = (ys * cc - yc * sc) / det;
  const b = (yc * ss - ys * sc) / det;
  let r = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = Math.sin((2 * Math.PI * frequency * i) / rate);
    const c = Math.cos((2 * Math.PI * frequency * i) / rate);
    r += (samples[i] - a * s - b * c) ** 2;
  }
  return { amplitude: Math.hypot(a, b), residual: Math.sqrt(r / samples.length) };
}

describe("AreaDownsampler", () => {
  it.each([48000, 44100, 32000, 22050])("turns one second at %i Hz into 16000 samples", (rate) => {
    const out = downsample(new Float32Array(rate), rate);
    expect(Math.abs(out.length - 16000)).toBeLessThanOrEqual(1);
  });

  it("never upsamples: at 16 kHz or below it passes samples through", () => {
    for (const rate of [16000, 8000]) {
      const resampler = new AreaDownsampler(rate);
      expect(resampler.outRate).toBe(rate);
      const input = Float32Array.from([0.1, -0.2, 0.3, 0.4]);
      const out: number[] = [];
      resampler.process(input, (x) => out.push(x));
      expect(out.map((x) => Number(x.toFixed(6)))).toEqual([0.1, -0.2, 0.3, 0.4]);
    }
  });

  it("keeps a constant level exactly (the weights of each window sum to one)", () => {
    const out = downsample(new Float32Array(44100).fill(0.25), 44100, [128, 7, 300]);
    for (const x of out) expect(x).toBeCloseTo(0.25, 12);
  });

  it.each([48000, 44100])("keeps a 440 Hz sine at %i Hz with no seam between blocks", (rate) => {
    const out = downsample(sine(rate, 1, 440), rate, [128]);
    const { amplitude, residual } = fit(out.slice(160), 16000, 440);
    expect(amplitude).toBeCloseTo(0.5 * 0.997, 2); // a box filter damps 440 Hz by 0.3 %
    expect(residual).toBeLessThan(1e-3);
  });

  it("gives the same output whatever the block sizes", () => {
    const input = sine(44100, 0.5, 1234, 0.8);
    const whole = downsample(input, 44100, [input.length]);
    const ragged = downsample(input, 44100, [1, 127, 128, 3, 500]);
    expect(ragged.length).toBe(whole.length);
    for (let i = 0; i < whole.length; i++) expect(ragged[i]).toBeCloseTo(whole[i], 9);
  });

  it("damps what would alias (12 kHz is above the new Nyquist)", () => {
    const out = downsample(sine(48000, 1, 12000), 48000);
    const rms = Math.sqrt(out.reduce((sum, x) => sum + x * x, 0) / out.length);
    expect(rms).toBeLessThan(0.4 * (0.5 / Math.SQRT2));
  });

  it("refuses rates that are not positive", () => {
    expect(() => new AreaDownsampler(0)).toThrow(RangeError);
  });
});

describe("PCM16 framing", () => {
  it("converts [-1, 1] to PCM16, clipping outside", () => {
    expect([0, 1, -1, 0.5, -0.5, 2, -2].map(floatToPcm16)).toEqual([
      0, 32767, -32768, 16384, -16384, 32767, -32768,
    ]);
  });

  it("makes frames of 100 ms at the output rate", () => {
    expect(frameSamples(16000)).toBe(1600);
    expect(frameSamples(8000)).toBe(800);
    expect(frameSamples(16000, 20)).toBe(320);
  });

  it("hands over full frames as they fill and the rest on flush", () => {
    const frames: Int16Array[] = [];
    const framer = new Pcm16Framer(4, (f) => frames.push(f));
    for (let i = 0; i < 10; i++) framer.push(i / 32767);
    expect(frames.map((f) => Array.from(f))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    expect(framer.pending).toBe(2);
    framer.flush();
    framer.flush(); // nothing left: no empty frame
    expect(frames.map((f) => Array.from(f))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
  });

  it("gives each frame its own buffer, so it can be transferred", () => {
    const frames: Int16Array[] = [];
    const framer = new Pcm16Framer(2, (f) => frames.push(f));
    for (let i = 0; i < 4; i++) framer.push(0.1);
    expect(frames[0].buffer).not.toBe(frames[1].buffer);
    expect(frames[0].buffer.byteLength).toBe(4);
  });

  it("mixes channels down to mono", () => {
    const out = mixDown([Float32Array.from([1, 0.5]), Float32Array.from([0, -0.5])], new Float32Array(2));
    expect(Array.from(out)).toEqual([0.5, 0]);
  });
});

describe("levelOf", () => {
  it("is 0 for silence and 1 at full scale", () => {
    expect(levelOf(new Int16Array(1600))).toBe(0);
    expect(levelOf(new Int16Array(0))).toBe(0);
    expect(levelOf(new Int16Array(1600).fill(32767))).toBeCloseTo(1, 3);
  });

  it("reads -20 dBFS as two thirds and clamps below -60 dBFS to 0", () => {
    expect(levelOf(new Int16Array(1600).fill(3277))).toBeCloseTo(2 / 3, 2);
    expect(levelOf(new Int16Array(1600).fill(10))).toBe(0);
  });
});
