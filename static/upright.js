// Pages turned and pages read badly: the rotate key (r) has the server read the page on screen again turned a further
// 90 degrees clockwise, and a page whose OCR reads badly (meta.poor_ocr) carries a marker in its toolbar.

import { el } from "./util.js";

// The page's toolbar marker for a page OCR read badly, and how it was turned; put in the page view's toolbar.
export function markPage(view, task) {
  const meta = task.meta || {};
  const bar = view && view.root && view.root.querySelector(".page-toolbar");
  if (!bar) return;
  const file = bar.querySelector(".page-file");
  if (meta.poor_ocr) {
    const mean = typeof meta.mean_conf === "number" ? Math.round(meta.mean_conf) : "?";
    const low = typeof meta.low_conf_share === "number" ? Math.round(100 * meta.low_conf_share) : "?";
    const mark = el("span", "ocr-poor", "⚠ OCR read badly");
    mark.title = `OCR read this page badly: mean word confidence ${mean} of 100, ${low}% of the words doubtful ` +
      "(press b to see them); check the text before trusting it";
    bar.insertBefore(mark, file);
  }
  if (meta.rotation) {
    const turned = el("span", "page-turned", `↻ ${meta.rotation}°`);
    turned.title = `Read turned ${meta.rotation}° clockwise (${meta.rotation_source === "annotator" ? "by you" :
      "detected"}); r turns it a further 90°`;
    bar.insertBefore(turned, file);
  }
}

// Ask the server to read the question's page again turned a further 90 degrees: the turned task ({task}).
export function turnPage(api, session, task) {
  return api.request("POST", "/api/turn-page", { session, task_hash: task._task_hash });
}
