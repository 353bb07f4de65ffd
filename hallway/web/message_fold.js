// Long messages fold: past FOLD_LINES lines or FOLD_CHARS characters a body shows its start,
// with "Show more" (and then "Show less"). Which ones are unfolded is kept by message, so a
// message drawn again (a reaction, an edit) stays as the person left it.

import { h } from "./dom.js";

const FOLD_LINES = 15;
const FOLD_CHARS = 1_500;
const unfolded = new Set(); // message keys shown whole

function isLong(text) {
  if (text.length > FOLD_CHARS) return true;
  let lines = 1;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) {
    lines += 1;
    if (lines > FOLD_LINES) return true;
  }
  return false;
}

/** The body element, and for a long message its fold button after it (`key`: the
 * message's key, messages.js messageKey). */
export function foldable(bodyElement, message, key) {
  if (!message.body || message.deleted_at || !isLong(message.body)) return bodyElement;
  const open = unfolded.has(key);
  bodyElement.classList.add("foldable");
  bodyElement.classList.toggle("folded", !open);
  bodyElement.id ||= `body-${key.replace(/[^\w-]/g, "_")}`;
  const button = h(
    "button",
    {
      type: "button",
      class: "fold-toggle quiet",
      "aria-expanded": open ? "true" : "false",
      "aria-controls": bodyElement.id,
      dataset: { fold: key },
    },
    open ? "Show less" : "Show more",
  );
  return [bodyElement, button];
}

// One listener for every fold button: it changes only the two elements, no redraw.
document.addEventListener("click", (event) => {
  const button = event.target.closest?.("button[data-fold]");
  if (!button) return;
  const key = button.dataset.fold;
  const open = !unfolded.has(key);
  if (open) unfolded.add(key);
  else unfolded.delete(key);
  document.getElementById(button.getAttribute("aria-controls"))?.classList.toggle("folded", !open);
  button.setAttribute("aria-expanded", open ? "true" : "false");
  button.textContent = open ? "Show less" : "Show more";
});
