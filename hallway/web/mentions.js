// Mentions in the client: the composer's autocomplete (typing `@` and letters offers the
// open conversation's members; picking one inserts `@Display Name `, which the server
// resolves by the longest member name, docs/api.md "Mentions"), whether a message mentions
// me (highlighted), and the sidebar's mention badge.

import { h } from "./dom.js";
import { state } from "./store.js";

const MAX_OPTIONS = 8;
const MAX_QUERY_CHARS = 60;
const BROADCASTS = [
  { key: "channel", label: "@channel", hint: "everyone in the conversation" },
  { key: "here", label: "@here", hint: "everyone online" },
];

/** Whether a message names me, or everyone (`@channel`, `@here`). */
export function mentionsMe(message) {
  if (!state.me || message.deleted_at || message.sender_id === state.me.id) return false;
  return (message.mentions ?? []).includes(state.me.id) || Boolean(message.mention_kind);
}

/** The `@N` badge beside the unread one; none for a muted conversation. */
export function mentionBadge(conversation) {
  const count = conversation.mention_count ?? 0;
  if (count <= 0 || conversation.muted) return null;
  return h(
    "span",
    { class: "badge mention-badge", "aria-label": `${count} ${count === 1 ? "mention" : "mentions"}` },
    `@${count > 99 ? "99+" : count}`,
  );
}

/** The `@query` being typed before the caret: {start, query}, or null. An `@` counts at the
 * start or after a character that is not a letter, digit or `_` (as on the server). */
function typedMention(input) {
  const caret = input.selectionStart;
  if (caret !== input.selectionEnd) return null;
  const before = input.value.slice(0, caret);
  const at = before.lastIndexOf("@");
  if (at === -1 || caret - at - 1 > MAX_QUERY_CHARS) return null;
  if (at > 0 && /[\p{L}\p{N}_]/u.test(before[at - 1])) return null;
  const query = before.slice(at + 1);
  if (query.includes("\n") || query.startsWith(" ") || query.includes("  ")) return null;
  return { start: at, query };
}

let nextListId = 0;

/** The listbox under the composer. `members()`: the open conversation's members
 * ({user_id, display_name}). */
export class MentionAutocomplete {
  constructor(input, members) {
    this.input = input;
    this.members = members;
    this.options = []; // {label, insert, hint}
    this.active = 0;
    this.typed = null;
    this.listId = `mention-options-${++nextListId}`;
    this.list = h("ul", {
      id: this.listId,
      class: "mention-options",
      role: "listbox",
      "aria-label": "People to mention",
      hidden: true,
    });
    input.after(this.list);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", this.listId);
    input.setAttribute("aria-expanded", "false");
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update());
    input.addEventListener("blur", () => this.close());
    // mousedown, not click: the textarea keeps its focus (and its caret).
    this.list.addEventListener("mousedown", (event) => {
      const option = event.target.closest("[data-index]");
      if (!option) return;
      event.preventDefault();
      this.pick(Number(option.dataset.index));
    });
  }

  get isOpen() {
    return !this.list.hidden;
  }

  /** Offer what matches the `@query` before the caret, or close. */
  update() {
    this.typed = typedMention(this.input);
    if (!this.typed) return this.close();
    const query = this.typed.query.toLocaleLowerCase();
    const others = this.members().filter((m) => m.user_id !== state.me.id);
    // A whole name and a space: picked or typed out, nothing more to offer.
    const done = query.endsWith(" ") && query.trimEnd();
    if (done && others.some((m) => m.display_name.toLocaleLowerCase() === done)) {
      return this.close();
    }
    const people = others
      .filter((m) => m.display_name.toLocaleLowerCase().startsWith(query))
      .sort((a, b) => a.display_name.localeCompare(b.display_name))
      .map((m) => ({ label: m.display_name, insert: m.display_name, hint: null }));
    const broadcasts = BROADCASTS.filter((b) => b.key.startsWith(query)).map((b) => ({
      label: b.label,
      insert: b.key,
      hint: b.hint,
    }));
    this.options = [...people, ...broadcasts].slice(0, MAX_OPTIONS);
    if (!this.options.length) return this.close();
    this.active = Math.min(this.active, this.options.length - 1);
    this.render();
  }

  render() {
    this.list.replaceChildren(
      ...this.options.map((option, index) =>
        h(
          "li",
          {
            id: `${this.listId}-${index}`,
            role: "option",
            "aria-selected": index === this.active ? "true" : "false",
            dataset: { index },
          },
          option.label,
          option.hint ? h("span", { class: "hint" }, ` ${option.hint}`) : null,
        ),
      ),
    );
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.input.setAttribute("aria-activedescendant", `${this.listId}-${this.active}`);
  }

  close() {
    this.list.hidden = true;
    this.options = [];
    this.active = 0;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  /** The composer's keydown, first: true when the key was the autocomplete's. */
  onKeydown(event) {
    if (!this.isOpen || event.isComposing) return false;
    const count = this.options.length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      this.active = (this.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
      this.render();
    } else if (event.key === "Enter" || event.key === "Tab") {
      if (event.shiftKey) return false;
      this.pick(this.active);
    } else if (event.key === "Escape") {
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  /** Replace the typed `@query` with `@Display Name `. */
  pick(index) {
    const option = this.options[index];
    const typed = this.typed;
    if (!option || !typed) return;
    const { value } = this.input;
    const end = typed.start + 1 + typed.query.length;
    const inserted = `@${option.insert} `;
    this.input.value = value.slice(0, typed.start) + inserted + value.slice(end);
    const caret = typed.start + inserted.length;
    this.input.setSelectionRange(caret, caret);
    this.close();
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
  }
}
