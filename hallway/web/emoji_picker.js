// The full emoji picker (for reactions and for the composer): every emoji of emoji_data.js
// by group, searchable by name, a grid moved through with the arrow keys (Home/End: the
// row's ends, Ctrl+Home/End: the first and last), Enter or a click picks, Escape closes;
// either way focus goes back where it came from.

import { h } from "./dom.js";
import { EMOJI, GROUPS } from "./emoji_data.js";

const COLUMNS = 8;
const GROUP_TITLES = {
  smileys: "Smileys",
  people: "People",
  nature: "Animals and nature",
  food: "Food and drink",
  activities: "Activities",
  travel: "Travel and places",
  objects: "Objects",
  symbols: "Symbols",
};

let picker = null; // the one picker element, made on first use
let current = null; // {anchor, onPick, onClose} of the open picker

function build() {
  const search = h("input", {
    type: "search",
    id: "emoji-search",
    placeholder: "Search emoji",
    autocomplete: "off",
    "aria-label": "Search emoji",
    "aria-controls": "emoji-grid",
  });
  const grid = h("div", { id: "emoji-grid", role: "grid", "aria-label": "Emoji" });
  const status = h("p", { id: "emoji-status", role: "status" });
  const element = h(
    "div",
    {
      id: "emoji-picker",
      class: "emoji-picker",
      role: "dialog",
      "aria-label": "Pick an emoji",
      hidden: true,
    },
    search,
    status,
    grid,
  );
  document.body.append(element);
  search.addEventListener("input", () => fill(search.value));
  search.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || (event.key === "Tab" && !event.shiftKey)) {
      const first = activeCell() ?? cells()[0];
      if (first) {
        event.preventDefault();
        focusCell(first);
      }
    } else if (event.key === "Enter") {
      event.preventDefault();
      cells()[0]?.click();
    }
  });
  grid.addEventListener("keydown", onGridKey);
  grid.addEventListener("click", (event) => {
    const cell = event.target.closest("button[data-emoji]");
    if (cell) pick(cell.dataset.emoji);
  });
  element.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeEmojiPicker();
    }
  });
  // A press outside closes it (focus then stays where the press put it).
  document.addEventListener("pointerdown", (event) => {
    if (current && !element.contains(event.target) && !current.anchor.contains(event.target)) {
      closeEmojiPicker({ restoreFocus: false });
    }
  });
  return element;
}

const grid = () => picker.querySelector("#emoji-grid");
const cells = () => [...grid().querySelectorAll("button[data-emoji]")];
const activeCell = () => grid().querySelector('button[tabindex="0"]');

/** Emoji whose name has every word of the query (or whose group is named so). */
function matching(query) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return EMOJI;
  return EMOJI.filter(([, name, group]) => {
    const text = `${name} ${GROUP_TITLES[group].toLowerCase()}`;
    return words.every((word) => text.includes(word));
  });
}

function fill(query) {
  const found = matching(query);
  const groups = GROUPS.map((group) => [group, found.filter((e) => e[2] === group)]).filter(
    ([, emoji]) => emoji.length,
  );
  grid().replaceChildren(
    ...groups.map(([group, emoji]) => {
      const rows = [];
      for (let at = 0; at < emoji.length; at += COLUMNS) {
        rows.push(
          h(
            "div",
            { role: "row", class: "emoji-row" },
            emoji.slice(at, at + COLUMNS).map(([text, name]) =>
              h(
                "span",
                { role: "gridcell" },
                h(
                  "button",
                  {
                    type: "button",
                    tabindex: "-1",
                    title: name,
                    "aria-label": name,
                    dataset: { emoji: text },
                  },
                  text,
                ),
              ),
            ),
          ),
        );
      }
      return h(
        "div",
        { role: "rowgroup", class: "emoji-group", "aria-label": GROUP_TITLES[group] },
        h("p", { class: "emoji-group-title", "aria-hidden": "true" }, GROUP_TITLES[group]),
        rows,
      );
    }),
  );
  const first = cells()[0];
  if (first) first.tabIndex = 0;
  picker.querySelector("#emoji-status").textContent = found.length
    ? query.trim()
      ? `${found.length} emoji`
      : ""
    : "No emoji match.";
}

function focusCell(cell) {
  const active = activeCell();
  if (active && active !== cell) active.tabIndex = -1;
  cell.tabIndex = 0;
  cell.focus();
  cell.scrollIntoView({ block: "nearest" });
}

/** The cell `cell` moves to for a key, in the grid as it shows (rows of COLUMNS per group). */
function target(cell, event) {
  const row = cell.closest('[role="row"]');
  const rowCells = [...row.querySelectorAll("button[data-emoji]")];
  const column = rowCells.indexOf(cell);
  const rows = [...grid().querySelectorAll('[role="row"]')];
  const rowIndex = rows.indexOf(row);
  const all = cells();
  const inRow = (r) => {
    const there = r ? [...r.querySelectorAll("button[data-emoji]")] : [];
    return there[Math.min(column, there.length - 1)] ?? null;
  };
  switch (event.key) {
    case "ArrowRight":
      return all[all.indexOf(cell) + 1] ?? null;
    case "ArrowLeft":
      return all[all.indexOf(cell) - 1] ?? null;
    case "ArrowDown":
      return inRow(rows[rowIndex + 1]);
    case "ArrowUp":
      return inRow(rows[rowIndex - 1]);
    case "Home":
      return event.ctrlKey ? all[0] : rowCells[0];
    case "End":
      return event.ctrlKey ? all[all.length - 1] : rowCells[rowCells.length - 1];
    case "PageDown":
      return inRow(rows[Math.min(rowIndex + 5, rows.length - 1)]);
    case "PageUp":
      return inRow(rows[Math.max(rowIndex - 5, 0)]);
    default:
      return undefined;
  }
}

function onGridKey(event) {
  const cell = event.target.closest("button[data-emoji]");
  if (!cell) return;
  const next = target(cell, event);
  if (next === undefined) {
    if (event.key === "Tab" && event.shiftKey) {
      event.preventDefault();
      picker.querySelector("#emoji-search").focus();
    } else if (event.key === "Tab") {
      event.preventDefault(); // the grid is the picker's last stop: stay in the picker
      picker.querySelector("#emoji-search").focus();
    }
    return;
  }
  event.preventDefault();
  if (next) focusCell(next);
  else if (event.key === "ArrowUp") picker.querySelector("#emoji-search").focus();
}

function place(anchor) {
  const box = anchor.getBoundingClientRect();
  const width = picker.offsetWidth;
  const height = picker.offsetHeight;
  const left = Math.max(8, Math.min(box.left, window.innerWidth - width - 8));
  const above = box.top - height - 6;
  const top = above >= 8 ? above : Math.min(box.bottom + 6, window.innerHeight - height - 8);
  picker.style.left = `${left}px`;
  picker.style.top = `${Math.max(8, top)}px`;
}

function pick(emoji) {
  const { onPick } = current;
  closeEmojiPicker();
  onPick(emoji);
}

/** Open the picker by `anchor` (the button that opened it). `onPick(emoji)` gets the
 * emoji picked; `onClose()` runs however it closes, after focus went back to the anchor
 * (if it is still on the page). */
export function openEmojiPicker({ anchor, onPick, onClose = () => {} }) {
  picker ??= build();
  if (current) closeEmojiPicker({ restoreFocus: false });
  current = { anchor, onPick, onClose };
  const search = picker.querySelector("#emoji-search");
  search.value = "";
  fill("");
  picker.hidden = false;
  anchor.setAttribute("aria-expanded", "true");
  place(anchor);
  grid().scrollTop = 0;
  search.focus();
}

export function closeEmojiPicker({ restoreFocus = true } = {}) {
  if (!current) return;
  const { anchor, onClose } = current;
  current = null;
  picker.hidden = true;
  anchor.setAttribute("aria-expanded", "false");
  if (restoreFocus && anchor.isConnected) anchor.focus();
  onClose();
}

export function emojiPickerOpen() {
  return current !== null;
}

/** The composer's emoji button: inserts the emoji picked at the caret. */
export function wireComposerEmoji(input) {
  const button = h(
    "button",
    {
      type: "button",
      id: "composer-emoji",
      class: "composer-emoji",
      title: "Insert an emoji",
      "aria-label": "Insert an emoji",
      "aria-haspopup": "dialog",
      "aria-expanded": "false",
    },
    "😀",
  );
  input.before(button);
  let caret = null;
  button.addEventListener("click", () => {
    if (current?.anchor === button) {
      closeEmojiPicker();
      return;
    }
    caret = [input.selectionStart, input.selectionEnd];
    openEmojiPicker({
      anchor: button,
      onPick: (emoji) => {
        const [start, end] = caret ?? [input.value.length, input.value.length];
        input.setRangeText(emoji, start, end, "end");
        input.focus();
        input.dispatchEvent(new Event("input", { bubbles: true }));
      },
    });
  });
  return button;
}
