// The Account dialog: where I am logged in (end another session, or log out everywhere),
// changing my password, and deleting my account.

import { api } from "./api.js";
import { h, relativeTime } from "./dom.js";
import { clearErrors, fieldsOf, friendly, submitting } from "./forms.js";
import { state } from "./store.js";

// Their server sentences are about the request; here they are about a field.
const PASSWORD_WORDING = {
  invalid_credentials: { field: "current_password", message: "The current password is wrong." },
};
const DELETE_WORDING = {
  invalid_credentials: { field: "password", message: "The password is wrong." },
};

const BROWSERS = [
  ["Edg/", "Edge"],
  ["OPR/", "Opera"],
  ["Firefox/", "Firefox"],
  ["Chrome/", "Chrome"],
  ["Safari/", "Safari"],
];
const SYSTEMS = [
  ["Android", "Android"],
  ["iPhone", "iPhone"],
  ["iPad", "iPad"],
  ["Windows", "Windows"],
  ["CrOS", "ChromeOS"],
  ["Mac OS X", "macOS"],
  ["Linux", "Linux"],
];
const DEVICE_CHARS = 60;

/** "Chrome on Linux" from a User-Agent; anything else as it is (shortened). */
export function deviceName(agent) {
  if (!agent) return "Unknown device";
  const browser = BROWSERS.find(([mark]) => agent.includes(mark))?.[1];
  const system = SYSTEMS.find(([mark]) => agent.includes(mark))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return agent.length > DEVICE_CHARS ? `${agent.slice(0, DEVICE_CHARS)}…` : agent;
}

/** `logOutEverywhere()` ends every session, this one included, and leaves the page;
 * `deleteAccount({password, erase_messages})` deletes my account and leaves the page. Both
 * reject (ApiError) if the server could not. */
export function wireAccount({ logOutEverywhere, deleteAccount }) {
  const dialog = document.getElementById("account-dialog");
  const list = document.getElementById("session-list");
  const error = document.getElementById("sessions-error");
  const everywhere = document.getElementById("log-out-everywhere");
  const form = document.getElementById("password-form");
  const done = document.getElementById("password-done");
  const deleteForm = document.getElementById("delete-account-form");

  let loading = 0; // a newer load's answer wins
  const load = async () => {
    const mine = ++loading;
    try {
      const { sessions } = await api.sessions();
      if (mine !== loading) return;
      // This device first, then the most recently seen (the server's order).
      const ordered = [...sessions.filter((s) => s.current), ...sessions.filter((s) => !s.current)];
      list.replaceChildren(...ordered.map(sessionItem));
      list.setAttribute("aria-busy", "false");
    } catch (failure) {
      if (mine !== loading) return;
      list.replaceChildren();
      error.textContent = friendly(failure);
    }
  };

  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-id]");
    if (!button) return;
    error.textContent = "";
    button.disabled = true;
    try {
      await api.endSession(button.dataset.id);
    } catch (failure) {
      // Already ended elsewhere (404): the list is simply out of date.
      if (failure.status !== 404) error.textContent = friendly(failure);
    }
    await load();
    (list.querySelector("button[data-id]") ?? everywhere).focus();
  });

  everywhere.addEventListener("click", async () => {
    error.textContent = "";
    everywhere.disabled = true;
    try {
      await logOutEverywhere();
    } catch (failure) {
      error.textContent = friendly(failure);
      everywhere.disabled = false;
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    done.textContent = "";
    submitting(
      form,
      "Changing…",
      async () => {
        await api.changePassword(fieldsOf(form, ["current_password", "new_password"]));
        form.reset();
        done.textContent = "Your password is changed. Your other sessions are logged out.";
        await load();
      },
      PASSWORD_WORDING,
    );
  });

  deleteForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const erase = deleteForm.elements.erase_messages.checked;
    const question = erase
      ? "Delete your account and erase all your messages? This cannot be undone."
      : "Delete your account? Your messages stay, shown as by “former member”. " +
        "This cannot be undone.";
    if (!window.confirm(question)) return;
    submitting(
      deleteForm,
      "Deleting…",
      () => deleteAccount({ password: deleteForm.elements.password.value, erase_messages: erase }),
      DELETE_WORDING,
    );
  });

  document.getElementById("open-account").addEventListener("click", () => {
    error.textContent = "";
    done.textContent = "";
    everywhere.disabled = false;
    for (const each of [form, deleteForm]) {
      each.reset();
      clearErrors(each);
      each.elements.username.value = state.me.email;
    }
    list.replaceChildren(h("li", {}, "Loading…"));
    list.setAttribute("aria-busy", "true");
    dialog.showModal();
    load();
  });
}

function sessionItem(session) {
  const device = deviceName(session.device);
  return h(
    "li",
    { class: session.current ? "session current" : "session", dataset: { session: session.id } },
    h(
      "div",
      { class: "about" },
      h("span", { class: "device", title: session.device }, device),
      session.current ? h("span", { class: "tag" }, "This device") : null,
      h(
        "span",
        { class: "seen" },
        "Last seen ",
        relativeTime(session.last_seen_at),
        session.address ? ` · ${session.address}` : "",
      ),
    ),
    session.current
      ? null
      : h(
          "button",
          {
            type: "button",
            dataset: { id: session.id },
            "aria-label": `End the session on ${device}`,
          },
          "End",
        ),
  );
}
