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

const PALETTE = ["#ffd166", "#8ecae6", "#c3b1e1", "#ff9aa2", "#a7d99b", "#ffb37a", "#86d9cc", "#f4a9e4",
  "#d6d97a", "#b8c7dc"];

export function labelColors(labels) {
  const known = new Map(labels.map((l, i) => [l, PALETTE[i % PALETTE.length]]));
  return (label) => {
    if (known.has(label)) return known.get(label);
    let h = 0;
    for (const ch of String(label || "")) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return PALETTE[h % PALETTE.length];
  };
}

// A short, plain-text preview of a task for the history list.
export function preview(task, spans) {
  if (spans && spans.length) return spans.map((s) => `${(task.text || "").slice(s.start, s.end)} (${s.label})`).join(", ");
  const text = (task.text || "").replace(/\s+/g, " ").trim();
  return text.length > 60 ? text.slice(0, 57) + "…" : text || "(page)";
}

export function isPageTask(task) {
  return Boolean(task.width && task.height && (task.image || (task.tokens || []).some((t) => Array.isArray(t.bbox))));
}
