// Page geometry in page pixels: a box is [x0, y0, x1, y1].

export function overlaps(a, b) {
  return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
}

export function union(boxes) {
  let out = null;
  for (const b of boxes) {
    if (!b) continue;
    out = out ? [Math.min(out[0], b[0]), Math.min(out[1], b[1]), Math.max(out[2], b[2]), Math.max(out[3], b[3])] : [...b];
  }
  return out;
}

// The box around a span's tokens, or null when none of them has a box.
export function spanBox(span, tokens) {
  const boxes = [];
  for (let i = span.token_start; i <= span.token_end; i++) {
    const t = tokens[i];
    if (t && Array.isArray(t.bbox)) boxes.push(t.bbox);
  }
  return union(boxes);
}

// The share of a box's area that lies inside a rectangle (0 for an empty box).
export function shareInside(box, rect) {
  const area = (box[2] - box[0]) * (box[3] - box[1]);
  if (area <= 0) return 0;
  const w = Math.min(box[2], rect[2]) - Math.max(box[0], rect[0]);
  const h = Math.min(box[3], rect[3]) - Math.max(box[1], rect[1]);
  return w > 0 && h > 0 ? (w * h) / area : 0;
}

export function medianHeight(tokens) {
  const heights = [];
  for (const t of tokens) if (Array.isArray(t.bbox)) heights.push(t.bbox[3] - t.bbox[1]);
  if (!heights.length) return 0;
  heights.sort((a, b) => a - b);
  return heights[heights.length >> 1];
}

// Boxes bucketed by bands of the page's height, to ask quickly whether a rectangle meets any of them.
export class BoxIndex {
  constructor(band = 48) {
    this.band = band;
    this.rows = new Map();
  }

  add(box) {
    const band = this.band;
    for (let r = Math.floor(box[1] / band); r <= Math.floor(box[3] / band); r++) {
      if (!this.rows.has(r)) this.rows.set(r, []);
      this.rows.get(r).push(box);
    }
  }

  hits(rect) {
    const band = this.band;
    for (let r = Math.floor(rect[1] / band); r <= Math.floor(rect[3] / band); r++) {
      const row = this.rows.get(r);
      if (row && row.some((b) => overlaps(b, rect))) return true;
    }
    return false;
  }
}
