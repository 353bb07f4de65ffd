// Client state, without DOM: who I am, the company's people, my conversations, and the open
// conversation's timeline. A changed object is always replaced, never mutated, so renderers
// tell changed from unchanged by identity (dom.js reconcile).

export const state = {
  me: null, // {id, email, display_name, company_id, role, deactivated, deleted}
  // user id -> {id, display_name, role, deactivated, deleted, presence, ...}; a deleted
  // account stays, named "former member", so that its messages keep a name.
  people: new Map(),
  conversations: new Map(), // id -> an item of GET /conversations
};

export function personName(userId) {
  return state.people.get(userId)?.display_name ?? "Someone";
}

/** Deactivated people keep their name on what they wrote, marked. */
export function isDeactivated(userId) {
  return Boolean(state.people.get(userId)?.deactivated);
}

export function isDeleted(userId) {
  return Boolean(state.people.get(userId)?.deleted);
}

/** Whether a person's "do not disturb" (`dnd_until`) is still to come at `now`: the server
 * announces when it is set or turned off, not when it ends (main.js redraws then). */
export function inDoNotDisturb(person, now = Date.now()) {
  return Boolean(person?.dnd_until) && Date.parse(person.dnd_until) > now;
}

/** When the soonest "do not disturb" still to come among the people ends (ms since the
 * epoch), or null for none. */
export function nextDoNotDisturbEnd(now = Date.now()) {
  let soonest = null;
  for (const person of state.people.values()) {
    if (!inDoNotDisturb(person, now)) continue;
    const end = Date.parse(person.dnd_until);
    if (soonest === null || end < soonest) soonest = end;
  }
  return soonest;
}

/** A person as an admin call answers them ({id, display_name, role, deactivated, ...}),
 * keeping what the directory knows and the answer does not (presence). */
export function updatePerson(person) {
  const known = state.people.get(person.id);
  state.people.set(person.id, { ...known, ...person });
  if (person.id === state.me.id) state.me = { ...state.me, role: person.role };
}

/** People one can start a conversation with or add: everyone active but me, by name. */
export function colleagues() {
  return [...state.people.values()]
    .filter((p) => p.id !== state.me.id && !p.deactivated && !p.deleted)
    .sort((a, b) => a.display_name.localeCompare(b.display_name));
}

/** The other person of a direct conversation. */
export function directPeer(conversation) {
  if (conversation.kind !== "direct") return null;
  return conversation.members.find((m) => m.user_id !== state.me.id)?.user_id ?? null;
}

export function conversationTitle(conversation) {
  if (conversation.kind === "direct") {
    const peer = directPeer(conversation);
    return peer ? personName(peer) : "Just you";
  }
  if (conversation.title) return conversation.title;
  const others = conversation.members.filter((m) => m.user_id !== state.me.id);
  return others.map((m) => m.display_name).join(", ") || "Untitled group";
}

export function sortedConversations() {
  return [...state.conversations.values()].sort(
    (a, b) => Date.parse(b.last_activity_at) - Date.parse(a.last_activity_at),
  );
}

/** A conversation as a fresh list answer has it, unless this client already knows newer:
 * later events (from following it) or a later read marker (its own, not yet in the answer). */
export function mergeConversation(local, fetched) {
  if (!local) return fetched;
  if (local.last_seq > fetched.last_seq) return local;
  const merged =
    local.last_read_seq > fetched.last_read_seq
      ? { ...fetched, last_read_seq: local.last_read_seq, unread_count: local.unread_count }
      : fetched;
  // The same content keeps the same object, so its sidebar item keeps its element.
  return JSON.stringify(local) === JSON.stringify(merged) ? local : merged;
}

export function updateConversation(conversationId, change) {
  const item = state.conversations.get(conversationId);
  if (item) state.conversations.set(conversationId, { ...item, ...change });
}

/** A send's client_msg_id. crypto.randomUUID exists only in secure contexts; plain http on
 * a LAN address is not one. */
export function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const hex = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16));
  return hex.map((x) => x.padStart(2, "0")).join("");
}

/** My message as it shows while on its way: no id or seq until the server's copy replaces
 * it. `attachments`: uploaded files (their upload answers); `threadRootId`: a reply's root. */
export function pendingMessage(clientMsgId, body, { attachments = [], threadRootId = null } = {}) {
  return {
    id: null,
    client_msg_id: clientMsgId,
    sender_id: state.me.id,
    body,
    created_at: new Date().toISOString(),
    edited_at: null,
    deleted_at: null,
    deleted_by: null,
    thread_root_id: threadRootId,
    attachments,
    reactions: [],
    status: "sending",
  };
}

/**
 * The loaded part of one conversation: confirmed messages by id, and my own messages still
 * on their way by client_msg_id. A sent message is confirmed by whichever comes first, the
 * 201 or its `message.created` event, and the other one then changes nothing: never twice.
 */
export class Timeline {
  constructor() {
    this.byId = new Map();
    this.pending = new Map();
    this.cursor = null; // `before` for the next older window
    this.hasMore = false;
    this.olderLoad = null; // the older window on its way: a promise its callers share
    this.olderFailed = false;
  }

  /** A window of history: the newest (first), then older ones as they are loaded. */
  addWindow(page) {
    for (const message of page.messages) this.add(message);
    this.cursor = page.next_cursor;
    this.hasMore = page.has_more;
  }

  /** Returns true if the message is new here. */
  add(message) {
    if (message.sender_id === state.me.id && message.client_msg_id) {
      this.pending.delete(message.client_msg_id);
    }
    if (this.byId.has(message.id)) return false;
    this.byId.set(message.id, message);
    return true;
  }

  /** My message on its way (pendingMessage's options: attachments, threadRootId); returns
   * it as shown. */
  addPending(clientMsgId, body, options) {
    const message = pendingMessage(clientMsgId, body, options);
    this.pending.set(clientMsgId, message);
    return message;
  }

  /** Returns true if it is one of mine on its way here. */
  setPendingStatus(clientMsgId, status, error = null) {
    const message = this.pending.get(clientMsgId);
    if (message) this.pending.set(clientMsgId, { ...message, status, error });
    return Boolean(message);
  }

  /** Apply an edit, delete or reaction event; returns true if a loaded message changed.
   * An edit or reaction event of a message deleted since carries only the deletion
   * (`deleted_at`, `deleted_by`, no body or emoji): it deletes the message here too. */
  apply(kind, data) {
    const id = kind.startsWith("reaction.") ? data.message_id : data.id;
    const message = this.byId.get(id);
    if (!message) return false;
    let changed;
    if (kind === "message.deleted" || data.deleted_at) {
      if (message.deleted_at) return false;
      const gone = { body: "", body_html: "", edited_at: null, attachments: [], reactions: [] };
      changed = { ...message, ...gone, deleted_at: data.deleted_at, deleted_by: data.deleted_by };
    } else if (kind === "message.edited") {
      // body_html: an edit logged before the server rendered bodies has none (text then).
      const { body, body_html: bodyHtml, edited_at: editedAt } = data;
      changed = { ...message, body, body_html: bodyHtml, edited_at: editedAt };
      // An edit resolves its mentions again (docs/realtime.md).
      if ("mentions" in data) {
        Object.assign(changed, { mentions: data.mentions, mention_kind: data.mention_kind });
      }
    } else if (kind === "reaction.added" || kind === "reaction.removed") {
      const reactions = reactionsAfter(message.reactions, kind === "reaction.added", data);
      if (reactions === message.reactions) return false;
      changed = { ...message, reactions };
    } else {
      return false;
    }
    this.byId.set(id, changed);
    return true;
  }

  /** Confirmed messages in seq order, then my pending ones in the order I sent them. */
  messages() {
    const confirmed = [...this.byId.values()].sort((a, b) => a.seq - b.seq);
    return [...confirmed, ...this.pending.values()];
  }

  /** The confirmed message with the highest seq, or null. */
  newestMessage() {
    let newest = null;
    for (const message of this.byId.values()) {
      if (!newest || message.seq > newest.seq) newest = message;
    }
    return newest;
  }

  /** The newest seq of a message someone else sent (what unread counts count), or 0. */
  newestSeqFromOthers() {
    let newest = 0;
    for (const message of this.byId.values()) {
      if (message.sender_id !== state.me.id && message.seq > newest) newest = message.seq;
    }
    return newest;
  }
}

/** Reaction counts after one person added or took back an emoji. My own reactions are
 * idempotent through `me`; a repeated event for someone else cannot be told apart. */
function reactionsAfter(reactions, added, { emoji, user_id: userId }) {
  const mine = userId === state.me.id;
  const current = reactions.find((r) => r.emoji === emoji);
  if (mine && added === Boolean(current?.me)) return reactions;
  if (!added && !current) return reactions;
  const count = (current?.count ?? 0) + (added ? 1 : -1);
  const me = mine ? added : Boolean(current?.me);
  if (count <= 0) return reactions.filter((r) => r !== current);
  const next = { emoji, count, me };
  return current ? reactions.map((r) => (r === current ? next : r)) : [...reactions, next];
}
