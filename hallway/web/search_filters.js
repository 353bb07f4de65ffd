// The search box's filters (docs/search.md, "Filters"), offered as the user types: the
// filters whose name the last term starts, then people for `from:@` and the user's
// conversations for `in:#`. Picking one completes the last term.

import { h } from "./dom.js";
import { state } from "./store.js";

const FILTERS = [
  ["from:@", "from a person"],
  ["in:#", "in a conversation"],
  ["has:file", "with a file"],
  ["has:link", "with a link"],
  ["is:thread", "in a thread"],
  ["before:", "before a day, YYYY-MM-DD"],
  ["after:", "after a day, YYYY-MM-DD"],
  ["on:", "on a day, YYYY-MM-DD"],
];
const MAX_NAMES = 6;

/** Names compare as the server compares them: case and spaces ignored. */
function nameKey(name) {
  return name.normalize("NFKC").toLowerCase().replace(/\s+/g, "");
}

/** A value as a filter takes it: quoted when it has a space. */
function filterValue(name) {
  return /\s/.test(name) ? `"${name}"` : name;
}

/** The term being typed: what follows the last space outside quotes. */
export function lastTerm(text) {
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    if (text[i] === '"') quoted = !quoted;
    else if (/\s/.test(text[i]) && !quoted) start = i + 1;
  }
  return { start, term: text.slice(start) };
}

function named(prefix, typed, names) {
  const wanted = nameKey(typed.replace(/^["@#]+/, "").replace(/"$/, ""));
  return names
    .filter((name) => nameKey(name).startsWith(wanted))
    .slice(0, MAX_NAMES)
    .map((name) => ({ insert: `${prefix}${filterValue(name)} `, label: name }));
}

/** [{insert, label}] for the term being typed. */
export function suggestionsFor(term) {
  const lower = term.toLowerCase();
  if (lower.startsWith("from:")) {
    const people = [...state.people.values()].filter((p) => !p.deleted).map((p) => p.display_name);
    return named("from:@", term.slice(5), people);
  }
  if (lower.startsWith("in:")) {
    const titles = [...state.conversations.values()]
      .filter((c) => c.kind !== "direct" && c.title)
      .map((c) => c.title);
    return named("in:#", term.slice(3), titles);
  }
  if (lower.includes(":")) return [];
  return FILTERS.filter(([filter]) => filter.startsWith(lower)).map(([filter, what]) => ({
    insert: filter.endsWith(":") || filter.endsWith("@") || filter.endsWith("#") ? filter : `${filter} `,
    label: `${filter} ${what}`,
  }));
}

/** The list of suggestions under the search box. `onPicked()` runs after a pick changed the
 * box's text. */
export class SearchFilters {
  constructor(input, list, onPicked) {
    this.input = input;
    this.list = list;
    this.onPicked = onPicked;
    this.list.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (button) this.pick(button.dataset.insert);
    });
    // Leaving both the box and the list hides it; moving between them does not.
    const hideUnlessInside = () =>
      setTimeout(() => {
        if (!this.list.contains(document.activeElement) && document.activeElement !== this.input) {
          this.hide();
        }
      });
    this.input.addEventListener("focusout", hideUnlessInside);
    this.list.addEventListener("focusout", hideUnlessInside);
  }

  /** Show what fits the term being typed (nothing while the box is empty). */
  update() {
    const text = this.input.value;
    const { term } = lastTerm(text);
    const found = text.trim() || term ? suggestionsFor(term) : [];
    this.list.replaceChildren(
      ...found.map(({ insert, label }) =>
        h("li", {}, h("button", { type: "button", dataset: { insert } }, label)),
      ),
    );
    this.list.hidden = found.length === 0;
  }

  hide() {
    this.list.hidden = true;
    this.list.replaceChildren();
  }

  pick(insert) {
    const { start } = lastTerm(this.input.value);
    this.input.value = this.input.value.slice(0, start) + insert;
    this.input.focus();
    this.update();
    this.onPicked();
  }
}
