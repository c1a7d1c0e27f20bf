// What a session has transcribed so far: the finals in order and the live partial.

import type { FinalSegment, PartialSegment } from "./protocol.js";

export class Transcript {
  private readonly done: FinalSegment[] = [];
  private live: PartialSegment | null = null;

  /** The finals so far, oldest first, without the empty ones (a sound that held no words). */
  get finals(): FinalSegment[] {
    return this.done.slice();
  }

  /** The live guess of the utterance in progress, or null. */
  get partial(): PartialSegment | null {
    return this.live;
  }

  /** The finals' text and then the partial's, joined by spaces. */
  get text(): string {
    const parts = this.done.map((f) => f.text.trim());
    if (this.live) parts.push(this.live.text.trim());
    return parts.filter((part) => part.length > 0).join(" ");
  }

  /** A partial replaces the previous guess. */
  applyPartial(partial: PartialSegment): void {
    this.live = partial;
  }

  /** A final closes its utterance and clears the partial of that utterance (or an older one). */
  applyFinal(final: FinalSegment): void {
    if (this.live !== null && this.live.segmentId <= final.segmentId) this.live = null;
    if (final.text.trim().length > 0) this.done.push(final);
  }

  clearPartial(): void {
    this.live = null;
  }
}
