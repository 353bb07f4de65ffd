// A channel's own controls in the conversation header: its topic (shown, and editable by
// any member), archiving and unarchiving (its creator or an admin), and the composers (the
// conversation's and its thread panel's) locked with a note while it is archived (the server
// refuses sends with conversation_archived).

import { api } from "./api.js";
import { state } from "./store.js";

export class ChannelBar {
  /** `onChanged(conversation)`: the server answered the channel as it now is. */
  constructor({ onChanged, showError }) {
    this.onChanged = onChanged;
    this.showError = showError;
    this.topic = document.getElementById("conversation-topic");
    this.editButton = document.getElementById("edit-topic");
    this.archiveButton = document.getElementById("archive-channel");
    this.form = document.getElementById("topic-form");
    this.input = document.getElementById("topic-input");
    this.formError = this.form.querySelector(".field-error");
    this.note = document.getElementById("archived-note");
    this.composer = document.getElementById("composer");
    this.conversation = null;
    this.wire();
  }

  wire() {
    this.editButton.addEventListener("click", () => this.startEditing());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveTopic();
    });
    this.form.querySelector("[data-cancel]").addEventListener("click", () => this.stopEditing());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.stopEditing();
    });
    this.archiveButton.addEventListener("click", () => this.toggleArchived());
  }

  /** The open conversation (or null): draw its topic, buttons and composer lock. */
  show(conversation) {
    const changed = conversation?.id !== this.conversation?.id;
    this.conversation = conversation;
    if (changed) this.stopEditing();
    const channel = conversation?.kind === "channel" ? conversation : null;
    const archived = Boolean(channel?.archived_at);
    this.topic.hidden = !channel?.topic;
    this.topic.textContent = channel?.topic ?? "";
    this.editButton.hidden = !channel || archived;
    const mayArchive =
      channel && (state.me.role === "admin" || channel.created_by === state.me.id);
    this.archiveButton.hidden = !mayArchive;
    this.archiveButton.textContent = archived ? "Unarchive" : "Archive";
    this.note.hidden = !archived;
    // The thread panel's composer too (thread_panel.js): a reply is a send.
    for (const composer of [this.composer, document.getElementById("thread-composer")]) {
      composer.inert = archived;
      composer.classList.toggle("locked", archived);
      composer.querySelector("textarea").disabled = archived;
    }
  }

  startEditing() {
    if (!this.conversation) return;
    this.form.hidden = false;
    this.input.value = this.conversation.topic ?? "";
    this.formError.textContent = "";
    this.input.focus();
  }

  stopEditing() {
    this.form.hidden = true;
    this.formError.textContent = "";
  }

  async saveTopic() {
    const conversation = this.conversation;
    if (!conversation) return;
    try {
      const answer = await api.setTopic(conversation.id, this.input.value);
      this.stopEditing();
      if (this.conversation?.id === answer.id) this.onChanged(answer);
    } catch (error) {
      this.formError.textContent = error.message;
    }
  }

  async toggleArchived() {
    const conversation = this.conversation;
    if (!conversation) return;
    const archiving = !conversation.archived_at;
    const question = `Archive ${conversation.title}? Nobody can send to it until it is unarchived.`;
    if (archiving && !window.confirm(question)) return;
    try {
      const answer = await (archiving ? api.archive : api.unarchive)(conversation.id);
      if (this.conversation?.id === answer.id) this.onChanged(answer);
    } catch (error) {
      this.showError(`Could not ${archiving ? "archive" : "unarchive"}: ${error.message}`);
    }
  }
}
