// Where the label tag of each span goes: beside the span, on no word and no other tag, inside the
// page; null when there is no such place (the view then shows the tag only on hover).

import { overlaps } from "./geometry.js";

const GAP = 2; // screen pixels between a tag and its span

// spans: [{first, last, w, h}]: the boxes of the span's first and last token, the tag's size in
// screen pixels. words: a BoxIndex of every token's box. Returns [x, y] (page pixels) or null per span.
export function placeTags(spans, words, width, height, zoom) {
  const placed = [];
  return spans.map((s) => {
    const w = s.w / zoom, h = s.h / zoom, g = GAP / zoom;
    const f = s.first, l = s.last;
    const fy = (f[1] + f[3]) / 2, ly = (l[1] + l[3]) / 2;
    const candidates = [
      [f[0], f[1] - g - h], // above the first word, from its left edge
      [l[2] - w, l[1] - g - h], // above the last word, to its right edge
      [f[0] - g - w, fy - h / 2], // left of the first word
      [l[2] + g, ly - h / 2], // right of the last word
      [l[2] - w, l[3] + g], // below the last word
      [f[0], f[3] + g], // below the first word
    ];
    for (const [x, y] of candidates) {
      const rect = [x, y, x + w, y + h];
      if (x < 0 || y < 0 || rect[2] > width || rect[3] > height) continue;
      if (words.hits(rect) || placed.some((p) => overlaps(p, rect))) continue;
      placed.push(rect);
      return [x, y];
    }
    return null;
  });
}
