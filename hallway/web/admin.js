// Manage people (admins): everyone of the company with their role and state; make admin or
// member, deactivate (after a confirmation), reactivate, or delete the account (asking
// whether to erase their messages too). Each answer updates the people map, so names,
// marks and pickers everywhere follow at once. Deleted accounts are not listed: there is
// nothing left of them to manage.

import { api } from "./api.js";
import { h } from "./dom.js";
import { friendly } from "./forms.js";
import { showMe } from "./sidebar.js";
import { state, updatePerson } from "./store.js";

// Each action: `ask(person)` (optional) resolves to the choices made, or null to do
// nothing; `call(person, choices)` answers the person as changed; `done(person, choices)`
// says what happened (`person` as they were before).
const ACTIONS = {
  admin: {
    call: (person) => api.setRole(person.id, "admin"),
    done: (person) => `${person.display_name} is now an admin.`,
  },
  member: {
    call: (person) => api.setRole(person.id, "member"),
    done: (person) =>
      person.id === state.me.id
        ? "You are now a member."
        : `${person.display_name} is now a member.`,
  },
  deactivate: {
    ask: async (person) =>
      window.confirm(
        `Deactivate ${person.display_name}? They are logged out everywhere at once and ` +
          "cannot log in until an admin reactivates them. Their messages stay.",
      )
        ? {}
        : null,
    call: (person) => api.deactivate(person.id),
    done: (person) => `${person.display_name} is deactivated and logged out everywhere.`,
  },
  reactivate: {
    call: (person) => api.reactivate(person.id),
    done: (person) => `${person.display_name} can log in again.`,
  },
  delete: {
    ask: askDeletion,
    call: (person, { eraseMessages }) => api.deletePerson(person.id, eraseMessages),
    done: (person, { eraseMessages }) =>
      eraseMessages
        ? `${person.display_name}'s account and messages are deleted.`
        : `${person.display_name}'s account is deleted. Their messages stay, by “former member”.`,
  },
};

/** The delete dialog: resolves to {eraseMessages} when confirmed, null when cancelled. */
function askDeletion(person) {
  const dialog = document.getElementById("delete-person-dialog");
  const form = document.getElementById("delete-person-form");
  form.reset();
  document.getElementById("delete-person-about").textContent =
    `${person.display_name} is logged out everywhere at once and can never log in to this ` +
    "account again. They leave every group and channel.";
  return new Promise((resolve) => {
    let choices = null;
    const confirmed = (event) => {
      event.preventDefault();
      choices = { eraseMessages: form.elements.erase_messages.checked };
      dialog.close();
    };
    form.addEventListener("submit", confirmed);
    dialog.addEventListener(
      "close",
      () => {
        form.removeEventListener("submit", confirmed);
        resolve(choices);
      },
      { once: true },
    );
    dialog.showModal();
  });
}

/** `onChange()` after a person was changed here (a role, deactivation); `reloadPeople()`:
 * load the people map again. */
export function wireAdmin({ onChange, reloadPeople }) {
  const dialog = document.getElementById("admin-dialog");
  const list = document.getElementById("admin-list");
  const error = dialog.querySelector(".form-error");
  const done = document.getElementById("admin-done");

  const draw = () => {
    const people = [...state.people.values()]
      .filter((p) => !p.deleted)
      .sort((a, b) => a.display_name.localeCompare(b.display_name));
    list.replaceChildren(...people.map(personItem));
  };

  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const { action } = button.dataset;
    const person = state.people.get(button.closest("[data-person]").dataset.person);
    if (!person) return;
    const spec = ACTIONS[action];
    const choices = spec.ask ? await spec.ask(person) : {};
    if (!choices) return;
    error.textContent = "";
    done.textContent = "";
    const row = button.closest("li");
    for (const b of row.querySelectorAll("button")) b.disabled = true;
    try {
      updatePerson(await spec.call(person, choices));
      onChange();
      done.textContent = spec.done(person, choices);
    } catch (failure) {
      error.textContent = friendly(failure);
    }
    if (state.me.role !== "admin") {
      // I made myself a member: this dialog and its button are for admins.
      showMe();
      dialog.close();
      return;
    }
    draw();
    // Keep the keyboard where it was: the same kind of button of the same person.
    const again = list.querySelector(
      `[data-person="${CSS.escape(person.id)}"] button[data-kind="${button.dataset.kind}"]`,
    );
    (again ?? dialog.querySelector("[data-close]")).focus();
  });

  document.getElementById("manage-people").addEventListener("click", async () => {
    error.textContent = "";
    done.textContent = "";
    draw();
    dialog.showModal();
    try {
      // Fresh roles and states: another admin may have changed them.
      await reloadPeople();
      draw();
    } catch (failure) {
      error.textContent = friendly(failure);
    }
  });
}

function personItem(person) {
  const me = person.id === state.me.id;
  const nameId = `admin-person-${person.id}`;
  const admin = person.role === "admin";
  return h(
    "li",
    { class: person.deactivated ? "person deactivated" : "person", dataset: { person: person.id } },
    h(
      "div",
      { class: "about" },
      h("span", { class: "name", id: nameId }, person.display_name, me ? " (you)" : ""),
      h("span", { class: "email" }, person.email),
    ),
    h(
      "span",
      { class: "tags" },
      h("span", { class: admin ? "tag role admin" : "tag role" }, admin ? "Admin" : "Member"),
      person.deactivated ? h("span", { class: "tag state" }, "Deactivated") : null,
    ),
    h(
      "span",
      { class: "buttons" },
      person.deactivated
        ? null
        : h(
            "button",
            {
              type: "button",
              dataset: { action: admin ? "member" : "admin", kind: "role" },
              "aria-describedby": nameId,
            },
            admin ? "Make member" : "Make admin",
          ),
      me
        ? null
        : h(
            "button",
            {
              type: "button",
              dataset: {
                action: person.deactivated ? "reactivate" : "deactivate",
                kind: "state",
              },
              "aria-describedby": nameId,
            },
            person.deactivated ? "Reactivate" : "Deactivate",
          ),
      me
        ? null
        : h(
            "button",
            {
              type: "button",
              class: "danger",
              dataset: { action: "delete", kind: "delete" },
              "aria-describedby": nameId,
            },
            "Delete",
          ),
    ),
  );
}
