// "Seen by" under the newest message of a direct conversation or group: who of the others
// has read up to it. Markers come from the conversation's members (each member's
// last_read_seq) and move with `receipt.updated` events, back too (someone marked a message
// unread). Channels show nothing: their markers are each reader's own.

import { personName, state } from "./store.js";

export class SeenBy {
  constructor() {
    this.line = document.getElementById("seen-by");
    this.markers = new Map(); // user id -> last_read_seq
    this.kind = null;
  }

  /** The conversation as the API answers it: its kind and members with their markers. */
  setMembers(conversation) {
    this.kind = conversation.kind;
    this.markers = new Map(
      conversation.members
        .filter((m) => m.last_read_seq !== null && m.last_read_seq !== undefined)
        .map((m) => [m.user_id, m.last_read_seq]),
    );
  }

  /** A receipt.updated event's data: {user_id, last_read_seq}. */
  receipt({ user_id: userId, last_read_seq: seq }) {
    this.markers.set(userId, seq);
  }

  clear() {
    this.markers = new Map();
    this.kind = null;
    this.line.hidden = true;
    this.line.textContent = "";
  }

  /** Draw the line for the timeline's newest message. */
  render(timeline) {
    const newest = this.kind && this.kind !== "channel" ? timeline?.newestMessage() : null;
    const names = [];
    if (newest && !newest.deleted_at) {
      for (const [userId, seq] of this.markers) {
        if (userId === state.me.id || userId === newest.sender_id) continue;
        if (seq >= newest.seq) names.push(personName(userId));
      }
    }
    names.sort((a, b) => a.localeCompare(b));
    this.line.hidden = names.length === 0;
    this.line.textContent = names.length ? `Seen by ${names.join(", ")}` : "";
  }
}
