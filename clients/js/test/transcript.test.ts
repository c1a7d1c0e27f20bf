import { describe, expect, it } from "vitest";
import { Transcript } from "../src/transcript";

const seg = (segmentId: number, text: string) => ({ segmentId, text, startS: segmentId, endS: segmentId + 1 });

describe("Transcript", () => {
  it("shows the finals so far and then the live partial", () => {
    const t = new Transcript();
    expect(t.text).toBe("");
    t.applyPartial(seg(0, "Hello"));
    expect(t.text).toBe("Hello");
    t.applyPartial(seg(0, "Hello wor"));
    t.applyFinal(seg(0, " Hello world. "));
    expect(t.partial).toBeNull();
    t.applyPartial(seg(1, "How"));
    expect(t.text).toBe("Hello world. How");
    expect(t.finals.map((f) => f.text)).toEqual([" Hello world. "]);
  });

  it("skips empty finals but still clears their partial", () => {
    const t = new Transcript();
    t.applyPartial(seg(0, "uh"));
    t.applyFinal(seg(0, " "));
    expect(t.finals).toEqual([]);
    expect(t.partial).toBeNull();
  });

  it("keeps a newer utterance's partial when an older one's final comes", () => {
    const t = new Transcript();
    t.applyPartial(seg(2, "next"));
    t.applyFinal(seg(1, "before."));
    expect(t.partial?.text).toBe("next");
    expect(t.text).toBe("before. next");
  });

  it("hands out copies of the finals", () => {
    const t = new Transcript();
    t.applyFinal(seg(0, "one"));
    t.finals.push(seg(9, "mutated"));
    expect(t.finals).toHaveLength(1);
  });
});
