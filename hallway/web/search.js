// Message search in the sidebar: results follow typing (after a pause), newest first, with
// the matched words marked; picking a result opens its conversation at that message.

import { api } from "./api.js";
import { h, timeElement } from "./dom.js";
import { SearchFilters } from "./search_filters.js";
import { conversationTitle, personName, state } from "./store.js";

const TYPING_PAUSE_MS = 250; // search once typing stops for this long (Enter: at once)
const PAGE_SIZE = 20;
// A body can be 10,000 characters: a result shows a stretch of it around the first match.
const SNIPPET_CHARS = 200;
const SNIPPET_LEAD = 40; // characters shown before the first match

/**
 * The text of `body` around its first match, as text nodes and <mark> elements.
 * `ranges` are [start, end) in code points (docs/search.md), so the body is indexed as
 * Array.from(body): a String counts UTF-16 units, and an emoji is two of them.
 */
export function markedSnippet(body, ranges) {
  const chars = Array.from(body);
  const first = ranges[0] ?? [0, 0];
  const from = Math.max(0, first[0] - SNIPPET_LEAD);
  const to = Math.min(chars.length, Math.max(from + SNIPPET_CHARS, first[1]));
  const nodes = from > 0 ? ["…"] : [];
  let at = from;
  for (const [start, end] of ranges) {
    const markFrom = Math.max(start, at);
    const markTo = Math.min(end, to);
    if (markFrom >= markTo) continue;
    if (markFrom > at) nodes.push(chars.slice(at, markFrom).join(""));
    nodes.push(h("mark", {}, chars.slice(markFrom, markTo).join("")));
    at = markTo;
  }
  if (to > at) nodes.push(chars.slice(at, to).join(""));
  if (to < chars.length) nodes.push("…");
  return nodes;
}

function conversationName(conversationId) {
  const conversation = state.conversations.get(conversationId);
  return conversation ? conversationTitle(conversation) : "Conversation";
}

function senderName(senderId) {
  return senderId === state.me.id ? "You" : personName(senderId);
}

function renderResult({ message, highlight }) {
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: "result",
        dataset: {
          conversation: message.conversation_id,
          message: message.id,
          sender: message.sender_id ?? "",
        },
      },
      h("span", { class: "where" }, conversationName(message.conversation_id)),
      timeElement(message.created_at, { compact: true }),
      h("span", { class: "sender" }, senderName(message.sender_id)),
      h("span", { class: "snippet" }, markedSnippet(message.body, highlight)),
    ),
  );
}

/** The search box and its results, shown in place of the conversation list while open.
 * `openId()` is the open conversation (for "only this conversation"); `onPick(conversationId,
 * messageId)` shows a result. */
export class Search {
  constructor({ openId, onPick }) {
    this.openId = openId;
    this.sidebar = document.getElementById("sidebar");
    this.form = document.getElementById("search-form");
    this.input = document.getElementById("search-input");
    this.scope = document.getElementById("search-scope");
    this.scopeLabel = document.getElementById("search-scope-label");
    this.panel = document.getElementById("search-results");
    this.status = document.getElementById("search-status");
    this.list = document.getElementById("search-result-list");
    this.more = document.getElementById("search-more");
    this.timer = null;
    // Bumped by every new search and by closing: an answer for an older one is dropped, so
    // "pla" answering after "plan" never replaces plan's results.
    this.generation = 0;
    this.query = null; // {q, conversationId} of the results shown
    this.cursor = null;

    this.filters = new SearchFilters(
      this.input,
      document.getElementById("search-suggestions"),
      () => this.searchAfterPause(),
    );

    this.input.addEventListener("input", () => {
      this.filters.update();
      this.searchAfterPause();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(this.timer);
      this.filters.hide();
      if (this.input.value.trim()) this.run();
      else this.close();
    });
    this.sidebar.addEventListener("keydown", (event) => {
      const inSearch =
        event.target === this.input ||
        this.panel.contains(event.target) ||
        this.filters.list.contains(event.target);
      if (event.key !== "Escape" || !inSearch) return;
      event.preventDefault();
      this.input.value = "";
      this.filters.hide();
      this.close();
      this.input.focus();
    });
    this.scope.addEventListener("change", () => {
      if (this.input.value.trim()) this.run();
    });
    this.list.addEventListener("click", (event) => {
      const result = event.target.closest("button.result");
      if (result) onPick(result.dataset.conversation, result.dataset.message);
    });
    this.more.addEventListener("click", () => this.loadMore());
  }

  searchAfterPause() {
    clearTimeout(this.timer);
    if (this.input.value.trim()) this.timer = setTimeout(() => this.run(), TYPING_PAUSE_MS);
    else this.close();
  }

  /** The open conversation changed: "only this conversation" follows it. */
  conversationChanged(conversationId) {
    this.scopeLabel.hidden = !conversationId;
    if (!this.query?.conversationId) return;
    if (conversationId) this.run();
    else this.close();
  }

  /** The conversation list or the people were (re)loaded: results may name them better. In
   * place, so a focused result keeps its focus. */
  redrawNames() {
    for (const result of this.list.querySelectorAll("button.result")) {
      result.querySelector(".where").textContent = conversationName(result.dataset.conversation);
      result.querySelector(".sender").textContent = senderName(result.dataset.sender);
    }
  }

  run() {
    const conversationId = this.scope.checked ? this.openId() : null;
    this.query = { q: this.input.value, conversationId };
    this.cursor = null;
    this.sidebar.dataset.searching = "";
    this.panel.hidden = false;
    this.status.textContent = "Searching…";
    this.more.hidden = true;
    this.fetchPage(++this.generation, true);
  }

  loadMore() {
    this.more.disabled = true;
    this.fetchPage(this.generation, false);
  }

  async fetchPage(generation, first) {
    const { q, conversationId } = this.query;
    let page;
    try {
      page = await api.search(q, { conversationId, cursor: this.cursor, limit: PAGE_SIZE });
    } catch (error) {
      if (generation !== this.generation) return;
      // A refused query (422) is the user's to fix: the server's sentence says how.
      this.status.textContent =
        error.status === 422 ? error.message : `Could not search: ${error.message}`;
      if (first) this.list.replaceChildren();
      this.more.disabled = false;
      return;
    }
    if (generation !== this.generation) return;
    const items = page.results.map(renderResult);
    if (first) this.list.replaceChildren(...items);
    else this.list.append(...items);
    this.cursor = page.next_cursor;
    this.more.hidden = !page.has_more;
    this.more.disabled = false;
    this.status.textContent = this.list.children.length ? "" : "No messages match.";
  }

  close() {
    clearTimeout(this.timer);
    this.generation += 1;
    this.query = null;
    this.cursor = null;
    delete this.sidebar.dataset.searching;
    this.panel.hidden = true;
    this.list.replaceChildren();
    this.status.textContent = "";
  }
}
