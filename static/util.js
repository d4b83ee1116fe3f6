// Small helpers shared by the views: safe element creation, span lookup, label colours.

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// For each token, the index of the span that covers it, or -1.
export function spanIndex(spans, n) {
  const owner = new Int32Array(n).fill(-1);
  spans.forEach((s, k) => {
    if (typeof s.token_start !== "number" || typeof s.token_end !== "number") return;
    for (let i = Math.max(0, s.token_start); i <= Math.min(n - 1, s.token_end); i++) owner[i] = k;
  });
  return owner;
}

// Ends a click or drag on tokens the way Prodigy does: a drag selects its range, shift+click
// extends from the anchor, a click selects one token or removes the span under it.
// `owner[i]` is the span covering token i (or -1). Returns the new anchor.
export function finishSelection(drag, anchor, owner, opt, time) {
  if (drag.moved) {
    opt.onSelect(Math.min(drag.start, drag.end), Math.max(drag.start, drag.end), time);
    return drag.end;
  }
  if (drag.shift && anchor !== null) {
    opt.onSelect(Math.min(anchor, drag.start), Math.max(anchor, drag.start), time);
    return drag.start;
  }
  if (owner[drag.start] >= 0) opt.onRemove(owner[drag.start]);
  else opt.onSelect(drag.start, drag.start, time);
  return drag.start;
}

// A label's colour is the same in every session and in exports (vnerteach/export.py label_colour):
// FNV-1a (32 bit) of the label's UTF-8 bytes picks one of PALETTE. Keep both in step.
const PALETTE = ["#9fc5e8", "#f59b42", "#b48ee6", "#f4c430", "#c97c5d", "#5fa8e8", "#f27c7c", "#b9bf3f", "#6cc26c",
  "#7dd8a5", "#d2a36c", "#3fbfb0", "#e3d34a", "#8e9fd1", "#9cc79c", "#a3aab8", "#ea8bd1"];

const utf8 = new TextEncoder();

export function labelColor(label) {
  let h = 0x811c9dc5;
  for (const byte of utf8.encode(String(label ?? ""))) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return PALETTE[h % PALETTE.length];
}

const NEAR = 65; // colours closer than this (RGB distance) are hard to tell apart (vnerteach/export.py NEAR)

function distance(a, b) {
  const rgb = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  const [x, y] = [rgb(a), rgb(b)];
  return Math.hypot(x[0] - y[0], x[1] - y[1], x[2] - y[2]);
}

// The colours of a project's labels, each clearly distinct from the others: the chosen ones (--label-colors), then
// in sorted order each label's hash colour unless it is near one taken, else the next of PALETTE that is not.
// Keep in step with vnerteach/export.py label_colours. Returns label -> colour, labelColor for any other label.
export function labelColors(labels, chosen) {
  const out = new Map(Object.entries(chosen || {}));
  const byCode = (a, b) => (a < b ? -1 : a > b ? 1 : 0); // Python's sorted(): by code point
  for (const label of [...new Set(labels)].filter((l) => !out.has(l)).sort(byCode)) {
    const start = PALETTE.indexOf(labelColor(label));
    const ring = PALETTE.map((_, k) => PALETTE[(start + k) % PALETTE.length]);
    const taken = [...out.values()];
    out.set(label, ring.find((c) => taken.every((t) => distance(c, t) >= NEAR))
      || ring.find((c) => !taken.includes(c)) || ring[0]);
  }
  return (label) => out.get(label) || labelColor(label);
}

// A short, plain-text preview of a task's text for the history list.
export function preview(task) {
  const text = (task.text || "").replace(/\s+/g, " ").trim();
  return text.length > 60 ? text.slice(0, 57) + "…" : text || "(page)";
}

// Where a task comes from, for the history list: its file's name and page, when it has them.
export function placeOf(task) {
  const meta = task.meta || {};
  const file = typeof meta.path === "string" ? meta.path.split(/[\\/]/).pop() : "";
  const page = typeof meta.page === "number" ? `page ${meta.page}` : "";
  return [file, page].filter(Boolean).join(" · ");
}

export function isPageTask(task) {
  return Boolean(task.width && task.height && (task.image || (task.tokens || []).some((t) => Array.isArray(t.bbox))));
}
