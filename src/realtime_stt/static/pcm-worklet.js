// realtime-stt-client 0.1.0 (MIT): built by clients/js/build.mjs from clients/js/src; edit the sources, not this file.
// src/audio.ts
var TARGET_RATE = 16e3;
var FRAME_MS = 100;
var AreaDownsampler = class {
  // input samples (fractional) in the window so far
  constructor(inRate, outRate = TARGET_RATE) {
    this.acc = 0;
    // weighted sum of the output window filled so far
    this.filled = 0;
    if (!(inRate > 0) || !(outRate > 0)) throw new RangeError("sample rates must be positive");
    this.inRate = inRate;
    this.outRate = Math.min(outRate, inRate);
    this.ratio = inRate / this.outRate;
  }
  /** Feed a block of input samples; `emit` receives each finished output sample in order. */
  process(input, emit) {
    const ratio = this.ratio;
    for (let i = 0; i < input.length; i++) {
      const x = input[i];
      let left = 1;
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
};
function floatToPcm16(value) {
  const s = value > 1 ? 1 : value < -1 ? -1 : value;
  return s < 0 ? Math.ceil(s * 32768 - 0.5) : Math.floor(s * 32767 + 0.5);
}
function frameSamples(rate, frameMs = FRAME_MS) {
  return Math.max(1, Math.round(rate * frameMs / 1e3));
}
var Pcm16Framer = class {
  constructor(size, onFrame) {
    this.size = size;
    this.onFrame = onFrame;
    this.used = 0;
    if (!(size >= 1)) throw new RangeError("a frame holds at least one sample");
    this.frame = new Int16Array(size);
  }
  /** Samples waiting for the next frame. */
  get pending() {
    return this.used;
  }
  /** Append one sample in [-1, 1]. */
  push(value) {
    this.frame[this.used++] = floatToPcm16(value);
    if (this.used === this.size) this.flush();
  }
  /** Hand over the samples collected so far, if any, as one (shorter) frame. */
  flush() {
    if (this.used === 0) return;
    const out = this.frame.slice(0, this.used);
    this.used = 0;
    this.onFrame(out);
  }
};
function mixDown(channels, out) {
  const n = out.length;
  const count = channels.length;
  for (let i = 0; i < n; i++) {
    let x = 0;
    for (let c = 0; c < count; c++) x += channels[c][i];
    out[i] = x / count;
  }
  return out;
}

// src/worklet.ts
var PcmDownsampler = class extends AudioWorkletProcessor {
  constructor(options) {
    super(options);
    this.mono = new Float32Array(128);
    const opts = options.processorOptions ?? {};
    this.resampler = new AreaDownsampler(sampleRate, opts.targetRate ?? TARGET_RATE);
    const size = frameSamples(this.resampler.outRate, opts.frameMs ?? FRAME_MS);
    this.framer = new Pcm16Framer(size, (frame) => {
      this.port.postMessage(frame.buffer, [frame.buffer]);
    });
    this.push = (sample) => this.framer.push(sample);
    this.port.onmessage = (event) => {
      if (event.data !== "flush") return;
      this.framer.flush();
      this.port.postMessage("flushed");
    };
  }
  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    let mono = channels[0];
    if (channels.length > 1) {
      if (this.mono.length !== mono.length) this.mono = new Float32Array(mono.length);
      mono = mixDown(channels, this.mono);
    }
    this.resampler.process(mono, this.push);
    return true;
  }
};
registerProcessor("pcm-downsampler", PcmDownsampler);
