// Manage people (admins): everyone of the company with their role and state; make admin or
// member, deactivate (after a confirmation) or reactivate. Each answer updates the people
// map, so names, marks and pickers everywhere follow at once.

import { api } from "./api.js";
import { h } from "./dom.js";
import { friendly } from "./forms.js";
import { showMe } from "./sidebar.js";
import { state, updatePerson } from "./store.js";

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
    confirm: (person) =>
      `Deactivate ${person.display_name}? They are logged out everywhere at once and ` +
      "cannot log in until an admin reactivates them. Their messages stay.",
    call: (person) => api.deactivate(person.id),
    done: (person) => `${person.display_name} is deactivated and logged out everywhere.`,
  },
  reactivate: {
    call: (person) => api.reactivate(person.id),
    done: (person) => `${person.display_name} can log in again.`,
  },
};

/** `onChange()` after the people map changed (names, roles, deactivation). */
export function wireAdmin({ onChange }) {
  const dialog = document.getElementById("admin-dialog");
  const list = document.getElementById("admin-list");
  const error = dialog.querySelector(".form-error");
  const done = document.getElementById("admin-done");

  const draw = () => {
    const people = [...state.people.values()].sort((a, b) =>
      a.display_name.localeCompare(b.display_name),
    );
    list.replaceChildren(...people.map(personItem));
  };

  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const { action } = button.dataset;
    const person = state.people.get(button.closest("[data-person]").dataset.person);
    if (!person) return;
    const spec = ACTIONS[action];
    if (spec.confirm && !window.confirm(spec.confirm(person))) return;
    error.textContent = "";
    done.textContent = "";
    const row = button.closest("li");
    for (const b of row.querySelectorAll("button")) b.disabled = true;
    try {
      const changed = await spec.call(person);
      updatePerson(changed);
      onChange();
      done.textContent = spec.done(changed);
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
      const { users } = await api.people();
      state.people = new Map(users.map((p) => [p.id, p]));
      onChange();
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
    ),
  );
}
