// The outbox: my messages on their way, across conversations, sent one at a time in the
// order I wrote them. A message that cannot go now (the socket is down and the POST cannot
// reach the server, or the server says "later": 5xx, 429) waits, shown as queued, and goes
// by itself once the socket is live again (or a later retry gets through), always with its
// own client_msg_id so the server stores it once. Only a refusal (a 4xx answer: too long,
// not a member…) ends it as "Not sent", with Retry. What is still on its way is kept in
// sessionStorage (this tab's, gone with it), so a reload of the tab loses nothing: it is
// shown again and sent once (the server takes a client_msg_id once).

import { api } from "./api.js";
import { friendly } from "./errors.js";
import { NotSentHere } from "./realtime.js";

const FIRST_RETRY_MS = 2_000;
const MAX_RETRY_MS = 30_000;
const STORE_PREFIX = "hallway.outbox.";

/** Logging out: what this tab kept for anyone is dropped, unsent. */
export function forgetStoredOutboxes() {
  try {
    for (const key of Object.keys(sessionStorage)) {
      if (key.startsWith(STORE_PREFIX)) sessionStorage.removeItem(key);
    }
  } catch {
    // Storage refused to this page: nothing was kept in it either (save), and logging out
    // must go on.
  }
}

/** Whether an error means "try again later" rather than "the server refused this". */
export function isTransient(error) {
  if (error instanceof NotSentHere) return true;
  const status = error?.status ?? 0;
  if (error?.code === "rate_limited") return true;
  // A socket's `error` answer carries status 0 and a code: a refusal. A failed fetch has
  // status 0 and no server code.
  if (status === 0) return error?.code === "network_error" || !error?.code;
  return status >= 500 || status === 408 || status === 429;
}

export class Outbox {
  /** `onStatus(conversationId, clientMsgId, status, error)`: "sending", "queued" or
   * "failed"; `onSent(conversationId, message)`: stored (the server's message). `userId`:
   * whose messages these are (what a reload finds kept is theirs only). */
  constructor(realtime, { onStatus, onSent, userId }) {
    this.realtime = realtime;
    this.onStatus = onStatus;
    this.onSent = onSent;
    this.storeKey = `${STORE_PREFIX}${userId}`;
    this.entries = new Map(); // client_msg_id -> {conversationId, fields, message, status}
    this.queue = []; // client_msg_ids still to send, oldest first
    this.pumping = false;
    this.retryDelay = FIRST_RETRY_MS;
    this.retryTimer = null;
    realtime.addLiveListener(() => this.flush());
    window.addEventListener("online", () => this.flush());
    this.restore();
  }

  /** Queue a message: `message` is the pending message the timeline shows; `fields` the
   * send's {body, client_msg_id, attachment_ids, thread_root_id}. */
  add(conversationId, message, fields) {
    // Behind a queued message it is queued too (it goes after it).
    const status = this.retryTimer ? "queued" : "sending";
    this.entries.set(fields.client_msg_id, { conversationId, fields, message, status });
    if (status === "queued") this.onStatus(conversationId, fields.client_msg_id, status, null);
    this.queue.push(fields.client_msg_id);
    this.save();
    this.pump();
  }

  /** Send a refused message again (Retry), after whatever is still queued. */
  retry(clientMsgId) {
    const entry = this.entries.get(clientMsgId);
    if (!entry || entry.status !== "failed") return;
    this.setStatus(clientMsgId, entry, "sending");
    this.queue.push(clientMsgId);
    this.pump();
  }

  discard(clientMsgId) {
    const entry = this.entries.get(clientMsgId);
    if (entry?.status === "failed") this.entries.delete(clientMsgId);
    this.save();
  }

  /** The message arrived another way (its `message.created` event): it is done. */
  confirmed(clientMsgId) {
    const entry = this.entries.get(clientMsgId);
    if (!entry) return;
    this.entries.delete(clientMsgId);
    this.queue = this.queue.filter((id) => id !== clientMsgId);
    this.save();
    entry.settle?.();
  }

  /** Pending messages of a conversation (queued, on their way or refused), to show again
   * when it is opened: those of its timeline, or with `threadRootId` those of that thread. */
  pendingIn(conversationId, threadRootId = null) {
    return [...this.entries.values()]
      .filter(
        (entry) =>
          entry.conversationId === conversationId &&
          (entry.message.thread_root_id ?? null) === threadRootId,
      )
      .map((entry) => ({ ...entry.message, status: entry.status, error: entry.error ?? null }));
  }

  /** Try the queue now (the socket is live again, the network is back). */
  flush() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryDelay = FIRST_RETRY_MS;
    this.pump();
  }

  // --- internals -------------------------------------------------------------------------

  setStatus(clientMsgId, entry, status, error = null) {
    entry.status = status;
    entry.error = error;
    this.save();
    this.onStatus(entry.conversationId, clientMsgId, status, error);
  }

  /** Keep what is on its way for a reload of the tab. */
  save() {
    const kept = [...this.entries.values()].map(
      ({ conversationId, fields, message, status, error }) => ({
        conversationId,
        fields,
        message,
        status,
        error: error ?? null,
      }),
    );
    try {
      if (kept.length) sessionStorage.setItem(this.storeKey, JSON.stringify(kept));
      else sessionStorage.removeItem(this.storeKey);
    } catch {
      // Storage full or refused: the queue still works for as long as this page lives.
    }
  }

  /** What the tab kept before it was reloaded: queued again (in the order written), or
   * still refused; sent as soon as anything gets through. */
  restore() {
    let kept;
    try {
      kept = JSON.parse(sessionStorage.getItem(this.storeKey) ?? "[]");
    } catch {
      kept = [];
    }
    if (!Array.isArray(kept)) return;
    for (const { conversationId, fields, message, status, error } of kept) {
      const clientMsgId = fields?.client_msg_id;
      if (typeof conversationId !== "string" || typeof clientMsgId !== "string" || !message) {
        continue;
      }
      const failed = status === "failed";
      const entry = { conversationId, fields, message, status: failed ? "failed" : "queued" };
      entry.error = failed ? error : null;
      this.entries.set(clientMsgId, entry);
      if (!failed) this.queue.push(clientMsgId);
    }
    if (this.queue.length) this.pump();
  }

  async pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length) {
        const clientMsgId = this.queue[0];
        const entry = this.entries.get(clientMsgId);
        if (!entry) {
          this.queue.shift();
          continue;
        }
        const outcome = await this.attempt(clientMsgId, entry);
        if (outcome === "wait") {
          // Everything behind it waits too, to keep the order.
          for (const id of this.queue) {
            const waiting = this.entries.get(id);
            if (waiting && waiting.status !== "queued") this.setStatus(id, waiting, "queued");
          }
          this.scheduleRetry();
          return;
        }
        if (this.queue[0] === clientMsgId) this.queue.shift();
      }
      this.retryDelay = FIRST_RETRY_MS;
    } finally {
      this.pumping = false;
    }
  }

  /** One try: over the socket while it is live, else (or if it went before answering) over
   * HTTP. Resolves "done" (stored, refused, or confirmed by its event meanwhile) or "wait". */
  async attempt(clientMsgId, entry) {
    const { conversationId, fields } = entry;
    const confirmedMeanwhile = new Promise((resolve) => {
      entry.settle = () => resolve({ confirmed: true });
    });
    const sending = this.realtime
      .sendMessage(conversationId, fields)
      .catch((error) => {
        if (error instanceof NotSentHere) return api.send(conversationId, fields);
        throw error;
      })
      .then(
        (message) => ({ message }),
        (error) => ({ error }),
      );
    const result = await Promise.race([sending, confirmedMeanwhile]);
    entry.settle = null;
    if (result.confirmed || !this.entries.has(clientMsgId)) return "done";
    if (result.message) {
      this.entries.delete(clientMsgId);
      this.save();
      this.onSent(conversationId, result.message);
      return "done";
    }
    if (isTransient(result.error)) {
      const after = Number(result.error?.details?.retry_after ?? result.error?.retryAfter);
      if (after > 0) this.retryDelay = Math.max(this.retryDelay, after * 1000);
      return "wait";
    }
    this.setStatus(clientMsgId, entry, "failed", friendly(result.error));
    return "done";
  }

  /** Try again later over HTTP too: the socket may stay refused while HTTP gets through. */
  scheduleRetry() {
    clearTimeout(this.retryTimer);
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, delay);
  }
}
