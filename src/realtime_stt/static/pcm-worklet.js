// AudioWorklet that turns microphone audio (Float32 at the context's rate, often 48 kHz)
// into 16 kHz mono PCM16 frames of about 100 ms and posts them to the page.
//
// Downsampling is "area averaging": each output sample is the mean of the input over its
// window of `ratio` input samples (e.g. 3 at 48 kHz, 2.75625 at 44.1 kHz), with the samples
// at the window edges weighted by the fraction that falls inside. That is a box low-pass
// filter followed by decimation; app.js puts a BiquadFilter low-pass in front of it to take
// out more of what would alias. The window's fill level carries over between the 128-sample
// blocks, so no fraction of a sample is lost or counted twice.

class PcmDownsampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = options.processorOptions || {};
    this.outRate = Math.min(opts.targetRate || 16000, sampleRate); // never upsample
    this.ratio = sampleRate / this.outRate; // input samples per output sample, >= 1
    this.acc = 0; // weighted sum of the output window filled so far
    this.filled = 0; // how many input samples (fractional) the window holds so far
    this.frame = new Int16Array(Math.round(this.outRate * (opts.frameMs || 100) / 1000));
    this.used = 0; // samples written into this.frame
    // "flush" from the page (on Stop): post the partly filled frame, then "flushed", so the
    // page knows every sample has been handed over and can send {"type":"end"}.
    this.port.onmessage = (event) => {
      if (event.data !== "flush") return;
      this.post();
      this.port.postMessage("flushed");
    };
  }

  // Append one output sample, converted from [-1, 1] float to PCM16.
  emit(value) {
    const s = Math.max(-1, Math.min(1, value));
    this.frame[this.used++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.used === this.frame.length) this.post();
  }

  // Send the samples collected so far as one transferable ArrayBuffer.
  post() {
    if (this.used === 0) return;
    const out = this.frame.slice(0, this.used);
    this.port.postMessage(out.buffer, [out.buffer]);
    this.used = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true; // no input connected yet
    const n = channels[0].length;
    for (let i = 0; i < n; i++) {
      // Mix down to mono.
      let x = 0;
      for (let c = 0; c < channels.length; c++) x += channels[c][i];
      x /= channels.length;
      // Spread this input sample over the output windows it covers.
      let left = 1;
      while (left > 0) {
        const need = this.ratio - this.filled;
        if (left < need) {
          this.acc += x * left;
          this.filled += left;
          left = 0;
        } else {
          this.acc += x * need;
          this.emit(this.acc / this.ratio);
          this.acc = 0;
          this.filled = 0;
          left -= need;
        }
      }
    }
    return true; // keep running until the page disconnects the node
  }
}

registerProcessor("pcm-downsampler", PcmDownsampler);
