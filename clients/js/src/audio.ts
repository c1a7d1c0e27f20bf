// The pure audio parts: downsampling to 16 kHz, PCM16 framing and the level of a frame. The
// AudioWorklet (worklet.ts) runs the first two on the audio thread; the unit tests run them in Node.

/** The rate the server's engines work at; the client sends this unless the device is slower. */
export const TARGET_RATE = 16000;
/** Milliseconds of audio per binary WebSocket message. */
export const FRAME_MS = 100;

/**
 * Downsampling by area averaging: each output sample is the mean of the input over its window of
 * `ratio` input samples (3 at 48 kHz, 2.75625 at 44.1 kHz), the samples at a window's edges
 * weighted by the fraction that falls inside. That is a box low-pass filter followed by decimation
 * (the client puts a biquad low-pass in front of it to take out more of what would alias). The
 * window's fill level carries over between calls, so no fraction of a sample is lost or counted
 * twice whatever the block sizes. It never upsamples: `outRate` is capped at `inRate`.
 */
export class AreaDownsampler {
  readonly inRate: number;
  readonly outRate: number;
  readonly ratio: number;
  private acc = 0; // weighted sum of the output window filled so far
  private filled = 0; // input samples (fractional) in the window so far

  constructor(inRate: number, outRate: number = TARGET_RATE) {
    if (!(inRate > 0) || !(outRate > 0)) throw new RangeError("sample rates must be positive");
    this.inRate = inRate;
    this.outRate = Math.min(outRate, inRate);
    this.ratio = inRate / this.outRate;
  }

  /** Feed a block of input samples; `emit` receives each finished output sample in order. */
  process(input: ArrayLike<number>, emit: (sample: number) => void): void {
    const ratio = this.ratio;
    for (let i = 0; i < input.length; i++) {
      const x = input[i];
      let left = 1; // how much of this input sample is still to be spread over windows
      while (left > 0) {
        const need = ratio - this.filled;
        if (left < need) {
          this.acc += x * left;
          this.filled += left;
          left = 0;
        } else {
          this.acc += x * need;
          emit(this.acc / ratio);
          this.acc = 0;
          this.filled = 0;
          left -= need;
        }
      }
    }
  }
}

/** One sample in [-1, 1] as a PCM16 value (clipped; the negative side reaches -32768). */
export function floatToPcm16(value: number): number {
  const s = value > 1 ? 1 : value < -1 ? -1 : value;
  return s < 0 ? Math.ceil(s * 0x8000 - 0.5) : Math.floor(s * 0x7fff + 0.5);
}

/** Samples per frame at `rate` for frames of `frameMs` milliseconds (at least one). */
export function frameSamples(rate: number, frameMs: number = FRAME_MS): number {
  return Math.max(1, Math.round((rate * frameMs) / 1000));
}

/**
 * Collects PCM16 samples into frames of a fixed length and hands each full frame to `onFrame` as
 * a fresh Int16Array (so its buffer can be transferred). `flush()` hands over a partly filled one.
 */
export class Pcm16Framer {
  private frame: Int16Array;
  private used = 0;

  constructor(
    readonly size: number,
    private readonly onFrame: (frame: Int16Array) => void,
  ) {
    if (!(size >= 1)) throw new RangeError("a frame holds at least one sample");
    this.frame = new Int16Array(size);
  }

  /** Samples waiting for the next frame. */
  get pending(): number {
    return this.used;
  }

  /** Append one sample in [-1, 1]. */
  push(value: number): void {
    this.frame[this.used++] = floatToPcm16(value);
    if (this.used === this.size) this.flush();
  }

  /** Hand over the samples collected so far, if any, as one (shorter) frame. */
  flush(): void {
    if (this.used === 0) return;
    const out = this.frame.slice(0, this.used);
    this.used = 0;
    this.onFrame(out);
  }
}

/** Mix channels down to mono into `out` (length of the first channel) and return it. */
export function mixDown(channels: ArrayLike<number>[], out: Float32Array): Float32Array {
  const n = out.length;
  const count = channels.length;
  for (let i = 0; i < n; i++) {
    let x = 0;
    for (let c = 0; c < count; c++) x += channels[c][i];
    out[i] = x / count;
  }
  return out;
}

/** Decibels below full scale that read as level 0 (the meter's floor). */
export const LEVEL_FLOOR_DB = -60;

/**
 * The loudness of a PCM16 frame for a meter, from 0 to 1: its RMS on a decibel scale, 0 at
 * -60 dBFS or quieter, 1 at full scale. Speech at a normal distance reads about 0.5 to 0.8.
 */
export function levelOf(frame: Int16Array): number {
  if (frame.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < frame.length; i++) {
    const x = frame[i] / 32768;
    sum += x * x;
  }
  const rms = Math.sqrt(sum / frame.length);
  if (rms === 0) return 0;
  const db = 20 * Math.log10(rms);
  const level = (db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB;
  return level < 0 ? 0 : level > 1 ? 1 : level;
}
