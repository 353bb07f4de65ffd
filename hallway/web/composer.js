// The composer of the open conversation: the text (a draft kept per conversation), files
// uploaded for the next message, sending on Enter, and the line where the conversation's
// errors are said.

import { api } from "./api.js";
import { LengthCounter } from "./composer_counter.js";
import { h } from "./dom.js";
import { wireComposerEmoji } from "./emoji_picker.js";
import { friendly } from "./errors.js";
import { MentionAutocomplete } from "./mentions.js";
import { formatSize } from "./messages.js";
import { newClientMsgId } from "./store.js";

export class Composer {
  /** `onSend(clientMsgId, body, attachments)`: a message to show and deliver; `typing`: the
   * TypingView told of my typing; `members()`: whom `@` offers (mentions.js). */
  constructor({ typing, onSend, members = () => [] }) {
    this.typing = typing;
    this.onSend = onSend;
    this.form = document.getElementById("composer");
    this.input = document.getElementById("composer-input");
    this.error = document.getElementById("composer-error");
    this.stagedList = document.getElementById("staged-files");
    this.fileInput = document.getElementById("attach-input");
    this.conversationId = null;
    this.drafts = new Map();
    this.staged = []; // files for the next message: {name, size, status, attachment?, error?}
    this.counter = new LengthCounter(this.input, this.form.querySelector("button[type=submit]"));
    wireComposerEmoji(this.input);
    this.mentions = new MentionAutocomplete(this.input, members);
    this.wire();
  }

  wire() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (this.mentions.onKeydown(event)) return;
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.input.addEventListener("input", () => {
      const id = this.conversationId;
      if (id) this.typing.typed(id, () => this.conversationId === id && this.hasText());
    });
    this.input.addEventListener("paste", (event) => {
      if (event.clipboardData.files.length) {
        event.preventDefault();
        this.attach(event.clipboardData.files);
      }
    });
    document.getElementById("attach").addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      this.attach(this.fileInput.files);
      this.fileInput.value = "";
    });
    this.stagedList.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-index]");
      if (button) {
        this.staged.splice(Number(button.dataset.index), 1);
        this.renderStaged();
      }
    });
  }

  hasText() {
    return Boolean(this.input.value.trim());
  }

  /** Say something about the conversation (a failed action, a refused frame). */
  showError(text) {
    this.error.textContent = text;
  }

  /** Write in this conversation, starting from its draft. */
  open(conversationId) {
    this.conversationId = conversationId;
    this.input.value = this.drafts.get(conversationId) ?? "";
    this.counter.update();
  }

  /** Keep the draft; files not sent go. */
  close() {
    if (this.conversationId) this.drafts.set(this.conversationId, this.input.value);
    this.conversationId = null;
    this.mentions.close();
    this.error.textContent = "";
    this.staged = [];
    this.renderStaged();
  }

  send() {
    const body = this.input.value;
    if (!this.conversationId || this.counter.over()) return;
    if (this.staged.some((file) => file.status === "uploading")) {
      this.error.textContent = "Wait for the files to finish uploading.";
      return;
    }
    const attachments = this.staged.filter((f) => f.status === "ready").map((f) => f.attachment);
    if (!body.trim() && !attachments.length) return;
    this.typing.stopTelling();
    this.input.value = "";
    this.counter.update();
    this.error.textContent = "";
    this.staged = [];
    this.renderStaged();
    this.onSend(newClientMsgId(), body, attachments);
  }

  /** Upload files for the next message; each shows as uploading, ready or failed. */
  attach(files) {
    const conversationId = this.conversationId;
    for (const file of files) {
      const staged = { name: file.name, size: file.size, status: "uploading" };
      this.staged.push(staged);
      api
        .upload(conversationId, file)
        .then((attachment) => Object.assign(staged, { status: "ready", attachment }))
        .catch((error) => Object.assign(staged, { status: "failed", error: friendly(error) }))
        .finally(() => {
          if (this.conversationId === conversationId) this.renderStaged();
        });
    }
    this.renderStaged();
  }

  renderStaged() {
    const labels = { uploading: "uploading…", ready: "ready", failed: "not uploaded" };
    this.stagedList.replaceChildren(
      ...this.staged.map((file, index) =>
        h(
          "li",
          { class: file.status },
          `${file.name} (${formatSize(file.size)}) · ${labels[file.status]}`,
          file.error ? `: ${file.error}` : null,
          h(
            "button",
            { type: "button", dataset: { index }, "aria-label": `Remove ${file.name}` },
            "×",
          ),
        ),
      ),
    );
  }
}
