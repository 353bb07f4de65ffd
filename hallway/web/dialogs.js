// The sidebar's dialogs: message a colleague, create a group or channel, browse and join
// channels (invites are invites.js's, people admin.js's).

import { api } from "./api.js";
import { h, plural } from "./dom.js";
import { clearErrors, submitting } from "./forms.js";
import { avatar, presenceDot } from "./profile.js";
import { colleagues, state } from "./store.js";

/** `onOpen(conversation)` is called with a conversation to show (new, joined or existing). */
export function wireDialogs(onOpen) {
  wirePeopleDialog(onOpen);
  wireCreateDialog(onOpen);
  wireChannelsDialog(onOpen);
  for (const dialog of document.querySelectorAll("dialog")) {
    dialog.addEventListener("click", (event) => {
      if (event.target.closest("[data-close]")) dialog.close();
    });
  }
}

function wirePeopleDialog(onOpen) {
  const dialog = document.getElementById("people-dialog");
  const search = document.getElementById("people-search");
  const list = document.getElementById("people-list");
  const error = dialog.querySelector(".form-error");
  const draw = () => {
    const wanted = search.value.trim().toLowerCase();
    const people = colleagues().filter(
      // By name and the email's own part: a shared company domain would match everyone.
      (p) => `${p.display_name} ${p.email.split("@")[0]}`.toLowerCase().includes(wanted),
    );
    list.replaceChildren(
      ...people.map((p) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", dataset: { id: p.id } },
            avatar(p.id),
            presenceDot(p),
            h("span", { class: "name" }, p.display_name),
            h("span", { class: "email" }, p.email),
          ),
        ),
      ),
    );
    if (!people.length) list.append(h("li", { class: "empty" }, "Nobody matches."));
  };
  search.addEventListener("input", draw);
  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-id]");
    if (!button) return;
    error.textContent = "";
    try {
      const conversation = await api.createConversation({
        kind: "direct",
        member_ids: [button.dataset.id],
      });
      dialog.close();
      onOpen(conversation);
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  document.getElementById("new-direct").addEventListener("click", () => {
    search.value = "";
    error.textContent = "";
    draw();
    dialog.showModal();
  });
}

function wireCreateDialog(onOpen) {
  const dialog = document.getElementById("create-dialog");
  const form = document.getElementById("create-form");
  const members = document.getElementById("create-members");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, "Creating…", async () => {
      const conversation = await api.createConversation({
        kind: form.elements.kind.value,
        title: form.elements.title.value.trim() || null,
        member_ids: [...form.querySelectorAll("[name=member_ids]:checked")].map((c) => c.value),
      });
      dialog.close();
      onOpen(conversation);
    });
  });
  document.getElementById("new-group").addEventListener("click", () => {
    form.reset();
    clearErrors(form);
    members.replaceChildren(
      ...colleagues().map((p) =>
        h(
          "li",
          {},
          h(
            "label",
            {},
            h("input", { type: "checkbox", name: "member_ids", value: p.id }),
            ` ${p.display_name}`,
          ),
        ),
      ),
    );
    dialog.showModal();
  });
}

function wireChannelsDialog(onOpen) {
  const dialog = document.getElementById("channels-dialog");
  const list = document.getElementById("channel-list");
  const error = dialog.querySelector(".form-error");
  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-id]");
    if (!button) return;
    error.textContent = "";
    try {
      const conversation =
        button.dataset.joined === "true"
          ? await api.conversation(button.dataset.id)
          : await api.addMembers(button.dataset.id, [state.me.id]);
      dialog.close();
      onOpen(conversation);
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  document.getElementById("browse-channels").addEventListener("click", async () => {
    error.textContent = "";
    list.replaceChildren(h("li", {}, "Loading…"));
    dialog.showModal();
    try {
      const { channels } = await api.channels();
      list.replaceChildren(
        ...channels.map((c) =>
          h(
            "li",
            {},
            h("span", { class: "name" }, `# ${c.title ?? "untitled"}`),
            h("span", { class: "count" }, plural(c.member_count, "member")),
            h(
              "button",
              { type: "button", dataset: { id: c.id, joined: String(c.joined) } },
              c.joined ? "Open" : "Join",
            ),
          ),
        ),
      );
      if (!channels.length) list.replaceChildren(h("li", { class: "empty" }, "No channels yet."));
    } catch (failure) {
      list.replaceChildren();
      error.textContent = failure.message;
    }
  });
}
