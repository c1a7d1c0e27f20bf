// The AudioWorklet behind RealtimeTranscriber: microphone audio (Float32 at the context's rate,
// often 48 kHz) in, 16 kHz mono PCM16 frames of about 100 ms out, posted to the page as
// transferable ArrayBuffers.
//
// Messages from the page: "flush" makes it post the partly filled frame and then the string
// "flushed", so the page knows every sample captured so far has been handed over (before it sends
// {"type":"flush"} or {"type":"end"}).
//
// processorOptions: {targetRate = 16000, frameMs = 100}. The output rate is min(targetRate, the
// context's rate): it never upsamples.

import { AreaDownsampler, FRAME_MS, Pcm16Framer, TARGET_RATE, frameSamples, mixDown } from "./audio.js";

interface Options {
  targetRate?: number;
  frameMs?: number;
}

class PcmDownsampler extends AudioWorkletProcessor {
  private readonly resampler: AreaDownsampler;
  private readonly framer: Pcm16Framer;
  private readonly push: (sample: number) => void;
  private mono = new Float32Array(128);

  constructor(options: AudioWorkletNodeOptions) {
    super(options);
    const opts = (options.processorOptions ?? {}) as Options;
    this.resampler = new AreaDownsampler(sampleRate, opts.targetRate ?? TARGET_RATE);
    const size = frameSamples(this.resampler.outRate, opts.frameMs ?? FRAME_MS);
    this.framer = new Pcm16Framer(size, (frame) => {
      this.port.postMessage(frame.buffer, [frame.buffer]);
    });
    this.push = (sample) => this.framer.push(sample);
    this.port.onmessage = (event: MessageEvent) => {
      if (event.data !== "flush") return;
      this.framer.flush();
      this.port.postMessage("flushed");
    };
  }

  process(inputs: Float32Array[][]): boolean {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true; // nothing connected (yet, or any more)
    let mono = channels[0];
    if (channels.length > 1) {
      if (this.mono.length !== mono.length) this.mono = new Float32Array(mono.length);
      mono = mixDown(channels, this.mono);
    }
    this.resampler.process(mono, this.push);
    return true; // keep running until the page disconnects the node
  }
}

registerProcessor("pcm-downsampler", PcmDownsampler);
