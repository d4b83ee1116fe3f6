// Text the page's OCR missed: the annotator boxes it, the server reads that region of the page image
// (or the annotator types it), and the words become tokens added by hand, appended to the task.

import { el } from "./util.js";
import { shareInside } from "./geometry.js";

// The words the server's OCR reads in a box of the task's page image: {words, error}.
export async function readRegion(api, task, box) {
  const key = task.meta && task.meta.image_key;
  if (!key) return { words: [], error: "this page has no image to read" };
  try {
    const res = await api.request("POST", "/api/ocr-region", { image_key: String(key), box: box.map(Math.round) });
    return { words: (res && res.words) || [], error: null };
  } catch (err) {
    return { words: [], error: err.message };
  }
}

// Words not already tokens of the page: a word mostly inside the tokens' boxes was read before (summed, as a
// word the page cut into tokens, "RM9.00" into "RM" and "9.00", has its box shared among them).
export function unseen(words, tokens) {
  const inside = (w) => tokens.reduce((sum, t) => sum + (Array.isArray(t.bbox) ? shareInside(w.bbox, t.bbox) : 0), 0);
  return words.filter((w) => inside(w) <= 0.5);
}

// Typed text as words sharing the drawn box, each as wide as its share of the characters.
export function typedWords(text, box) {
  const parts = text.split(/\s+/).filter(Boolean);
  const chars = parts.reduce((n, p) => n + p.length, 0) + parts.length - 1;
  const unit = (box[2] - box[0]) / Math.max(1, chars);
  let x = box[0];
  return parts.map((p, i) => {
    const x1 = i === parts.length - 1 ? box[2] : x + p.length * unit;
    const word = { text: p, bbox: [Math.round(x), box[1], Math.round(x1), box[3]], conf: null };
    x = x1 + unit;
    return word;
  });
}

// The task with the words appended as tokens added by hand (after the page's tokens and text, so
// every offset stays valid), and the indices of the first and last new token.
export function appendWords(task, words) {
  const tokens = [...(task.tokens || [])];
  let text = task.text || "";
  if (tokens.length) tokens[tokens.length - 1] = { ...tokens[tokens.length - 1], ws: true };
  const first = tokens.length;
  words.forEach((w, i) => {
    if (text.length) text += " ";
    const start = text.length;
    text += w.text;
    const token = { text: w.text, start, end: text.length, id: tokens.length, ws: i < words.length - 1,
      bbox: w.bbox.map(Math.round), added: true };
    if (typeof w.ocr_text === "string") token.ocr_text = w.ocr_text; // read from the region, then corrected
    tokens.push(token);
  });
  return { task: { ...task, text, tokens }, first, last: tokens.length - 1 };
}

// The indices of a task's tokens added by hand.
export function addedTokens(task) {
  const out = [];
  (task.tokens || []).forEach((t, i) => { if (t.added === true) out.push(i); });
  return out;
}

// A small form under the drawn box (above it when there is no room below) asking for the text;
// resolves to the text, or null if cancelled. `box` is [left, top, right, bottom] in the host's pixels.
// options: {value: the text to start from (selected, to be kept with Enter or typed over), placeholder, editor:
// a class name for the form}.
export function askText(host, box, note, options = {}) {
  return new Promise((resolve) => {
    const form = el("form", "ask-text" + (options.editor ? " " + options.editor : ""));
    form.appendChild(el("div", "ask-note", note));
    const input = el("input");
    input.type = "text";
    input.spellcheck = false;
    input.placeholder = options.placeholder || "Enter adds it, Esc cancels";
    if (options.value) input.value = options.value;
    form.appendChild(input);
    let done = false;
    const finish = (value) => {
      if (done) return;
      done = true;
      form.remove();
      resolve(value && value.trim() ? value.trim() : null);
    };
    form.addEventListener("submit", (e) => { e.preventDefault(); finish(input.value); });
    input.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); finish(null); } });
    input.addEventListener("blur", () => finish(null));
    host.appendChild(form);
    const h = form.offsetHeight, w = form.offsetWidth, room = host.clientHeight;
    const below = box[3] + 6 + h <= room;
    form.style.top = Math.max(4, below ? box[3] + 6 : Math.min(box[1] - 6 - h, room - h - 4)) + "px";
    form.style.left = Math.max(4, Math.min(box[0], host.clientWidth - w - 4)) + "px";
    input.focus({ preventScroll: true });
    if (options.value) input.select();
  });
}

// The words read in a region as the annotator confirmed or edited them: the same words, each keeping its box (and,
// where changed, what OCR read as `ocr_text`); else the text typed over the words' box.
export function confirmedWords(read, text) {
  const parts = text.split(/\s+/).filter(Boolean);
  if (parts.length === read.length) {
    return read.map((w, i) => (parts[i] === w.text ? w : { ...w, text: parts[i], ocr_text: w.text }));
  }
  const box = [Math.min(...read.map((w) => w.bbox[0])), Math.min(...read.map((w) => w.bbox[1])),
    Math.max(...read.map((w) => w.bbox[2])), Math.max(...read.map((w) => w.bbox[3]))];
  return typedWords(text, box);
}

// Read a boxed region into the task: OCR first, its text shown to confirm (Enter) or edit before it is added;
// typed text when OCR finds nothing new. Returns {task, first, last}, or null when nothing was added.
export async function addMissedText(api, view, task, box) {
  view.hold(box, true);
  try {
    const found = await readRegion(api, task, box);
    let words = unseen(found.words, task.tokens || []);
    view.hold(box, false);
    const where = [...view.screenPoint(box[0], box[1]), ...view.screenPoint(box[2], box[3])];
    if (words.length) {
      const text = await askText(view.root, where, "OCR read this: Enter adds it, or correct it first (Esc cancels)",
        { value: words.map((w) => w.text).join(" "), placeholder: "the text in the box", editor: "region-read" });
      if (!text) return null;
      words = confirmedWords(words, text);
    } else {
      const why = found.error ? `OCR failed (${found.error})` : "OCR found no new text here";
      const text = await askText(view.root, where, why + ": type it");
      if (!text) return null;
      words = typedWords(text, box);
    }
    return appendWords(task, words);
  } finally {
    view.release();
  }
}
