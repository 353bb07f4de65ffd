// The open conversation's messages on screen: the list drawn from its Timeline (store.js),
// older windows loading while scrolling up without moving what is on screen, and opening at
// one message (a search result). What its buttons do is message_actions.js's.

import { api } from "./api.js";
import { h, reconcile } from "./dom.js";
import { MessageActions } from "./message_actions.js";
import { MessageListKeys } from "./message_list_keys.js";
import { messageKey, renderMessage } from "./messages.js";
import { keepBottomOnImageLoad } from "./scroll_anchor.js";

/** The size of a window of history: the newest (conversation.js), then older ones. */
export const WINDOW_SIZE = 30;
// Opening at an older message loads the largest windows the API gives, up to 2,000 messages
// back; further than that, the user scrolls on from there.
const REVEAL_WINDOW_SIZE = 100;
const REVEAL_WINDOWS = 20;
const FOUND_MS = 2_000; // how long a message opened from search stays marked
const LOAD_OLDER_WITHIN_PX = 200;
const NEAR_BOTTOM_PX = 80;
const RUN_WITHIN_MS = 5 * 60_000; // one sender's messages this close share one header

export class TimelineView {
  /** `onRetry(clientMsgId)`: send a refused message again; `onDiscard(clientMsgId)`: give
   * it up; `showError(text)`: say why an action failed; `onMarkUnread(message)`. */
  constructor({ onRetry, onDiscard, showError, onMarkUnread }) {
    this.showError = showError;
    this.scroller = document.getElementById("messages");
    this.list = document.getElementById("message-list");
    this.status = document.getElementById("history-status");
    this.jump = document.getElementById("jump-latest");
    this.conversationId = null;
    this.timeline = null;
    this.revealing = null; // the message id last asked for by reveal()
    this.cache = new Map();
    this.actions = new MessageActions(this.list, {
      find: (key) => this.timeline?.messages().find((m) => messageKey(m) === key) ?? null,
      rerender: (...keys) => this.rerender(...keys),
      showError,
      onRetry: (message) => onRetry(message.client_msg_id),
      onDiscard: (message) => {
        this.timeline.pending.delete(message.client_msg_id);
        onDiscard(message.client_msg_id);
        this.render();
      },
      onMarkUnread,
    });
    this.keys = new MessageListKeys(this.scroller, this.list); // one tab stop, arrow keys
    this.wire();
  }

  wire() {
    this.scroller.addEventListener("scroll", () => {
      this.maybeLoadOlder();
      if (this.nearBottom()) this.jump.hidden = true;
    });
    keepBottomOnImageLoad(this.scroller, this.list, () => this.nearBottom());
    this.status.addEventListener("click", (event) => {
      if (event.target.closest("button") && this.timeline) {
        this.timeline.olderFailed = false;
        this.loadOlder();
      }
    });
    this.jump.addEventListener("click", () => {
      this.scroller.scrollTop = this.scroller.scrollHeight;
      this.jump.hidden = true;
    });
  }

  /** Show this conversation's timeline (its newest window on its way, or a reloaded one). */
  show(conversationId, timeline) {
    this.conversationId = conversationId;
    this.timeline = timeline;
  }

  /** Say how loading went, in place of the history status (e.g. a failed first window). */
  say(text) {
    this.status.textContent = text;
  }

  clear() {
    this.conversationId = null;
    this.timeline = null;
    this.cache.clear();
    this.list.replaceChildren();
    this.keys.reset();
    this.actions.reset({ moderator: false });
    this.jump.hidden = true;
  }

  /** Whether I may delete anyone's message here (an admin, or the conversation's owner). */
  setModerator(moderator) {
    if (this.actions.setModerator(moderator)) this.rerenderAll();
  }

  /** A message from someone else arrived while I am scrolled up. */
  offerJump() {
    this.jump.hidden = false;
  }

  // --- rendering ---------------------------------------------------------------------------

  nearBottom() {
    const box = this.scroller;
    return box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
  }

  /** scroll: "bottom" (go there), "older" (keep what is on screen where it is, as a window
   * is added above), "auto" (follow the bottom if already there). Returns: at the bottom. */
  render(scroll = "auto") {
    if (!this.timeline) return false;
    const box = this.scroller;
    const stick = scroll === "bottom" || (scroll === "auto" && this.nearBottom());
    const fromBottom = box.scrollHeight - box.scrollTop;
    const restoreFocus = this.keys.rememberFocus();
    reconcile(
      this.list,
      this.timeline.messages(),
      messageKey,
      (message) => renderMessage(message, this.actions.ui),
      this.cache,
    );
    this.markRuns();
    this.keys.update();
    restoreFocus();
    this.renderStatus();
    if (stick) box.scrollTop = box.scrollHeight;
    else if (scroll === "older") box.scrollTop = box.scrollHeight - fromBottom;
    return stick;
  }

  /** Render these messages again although their objects did not change (ui state did). */
  rerender(...keys) {
    for (const key of keys) {
      const entry = this.cache.get(key);
      if (entry) entry.item = null;
    }
    this.render();
  }

  rerenderAll() {
    this.rerender(...this.cache.keys());
  }

  /** Consecutive messages of one sender within a few minutes show one header. */
  markRuns() {
    let previous = null;
    for (const item of this.list.children) {
      const at = Date.parse(item.querySelector("time").dateTime);
      const continued =
        previous !== null &&
        previous.sender === item.dataset.sender &&
        at - previous.at < RUN_WITHIN_MS;
      item.classList.toggle("continued", continued);
      previous = { sender: item.dataset.sender, at };
    }
  }

  renderStatus() {
    const status = this.status;
    if (this.timeline.olderFailed) {
      status.replaceChildren(
        "Could not load earlier messages. ",
        h("button", { type: "button" }, "Try again"),
      );
    } else if (this.timeline.olderLoad) {
      status.textContent = "Loading earlier messages…";
    } else if (this.timeline.hasMore) {
      status.textContent = "";
    } else {
      status.textContent = "This is the beginning of the conversation.";
    }
  }

  // --- older windows -----------------------------------------------------------------------

  maybeLoadOlder() {
    if (this.timeline?.hasMore && this.scroller.scrollTop < LOAD_OLDER_WITHIN_PX) {
      this.loadOlder();
    }
  }

  /** The window before the oldest loaded one; a caller while it loads waits for the same. */
  loadOlder(size = WINDOW_SIZE) {
    const timeline = this.timeline;
    if (!timeline?.hasMore || timeline.olderFailed) return Promise.resolve();
    if (!timeline.olderLoad) {
      timeline.olderLoad = this.fetchOlder(timeline, size);
      this.renderStatus();
    }
    return timeline.olderLoad;
  }

  async fetchOlder(timeline, size) {
    try {
      timeline.addWindow(await api.messages(this.conversationId, size, timeline.cursor));
    } catch {
      timeline.olderFailed = true;
    } finally {
      timeline.olderLoad = null;
    }
    if (timeline !== this.timeline) return; // another conversation, or reloaded, meanwhile
    this.render("older");
    // A tall screen may still show the top: keep going until it is filled.
    this.maybeLoadOlder();
  }

  /** Once `opened` (the conversation's newest window) settles: load older windows until
   * the message is there, scroll to it, focus it and mark it for a moment. */
  async reveal(messageId, opened) {
    this.revealing = messageId;
    await opened;
    const timeline = this.timeline;
    const missing = () =>
      timeline === this.timeline &&
      timeline.hasMore &&
      !timeline.olderFailed &&
      !timeline.byId.has(messageId);
    for (let n = 0; n < REVEAL_WINDOWS && missing(); n += 1) {
      await this.loadOlder(REVEAL_WINDOW_SIZE);
    }
    // Another conversation or another result was picked meanwhile: that one wins.
    if (!timeline || timeline !== this.timeline || this.revealing !== messageId) return;
    const element = this.cache.get(messageId)?.el;
    if (!element) {
      if (missing()) this.showError("That message is further back: scroll up to reach it.");
      return;
    }
    element.scrollIntoView({ block: "center" });
    element.focus({ preventScroll: true });
    element.classList.add("found");
    setTimeout(() => element.classList.remove("found"), FOUND_MS);
  }
}
