// Log in, create a company, or join one with an invite code (also from an invite link:
// /#join=CODE); or choose a new password from an admin's reset link (/#/reset/TOKEN).

import { api } from "./api.js";
import { fieldsOf, submitting } from "./forms.js";

const FORMS = {
  login: { call: api.login, fields: ["email", "password"], busy: "Logging in…" },
  signup: {
    call: api.signup,
    fields: ["company_name", "display_name", "email", "password"],
    busy: "Creating…",
  },
  join: {
    call: api.join,
    fields: ["invite_code", "display_name", "email", "password"],
    busy: "Joining…",
  },
};

function selectTab(name) {
  for (const tab of document.querySelectorAll("#auth-tabs [role=tab]")) {
    const selected = tab.dataset.form === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(`${tab.dataset.form}-form`).hidden = !selected;
  }
}

const RESET_LINK = /^#\/reset\/([^/]+)$/;

/** The token of a password-reset link the page was opened with, if any. */
export function resetToken() {
  const match = RESET_LINK.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

/** Show the sign-in screen; `onSession` gets the session once one of the forms succeeds. */
export function showAuth(onSession, notice = "") {
  document.getElementById("auth-screen").hidden = false;
  document.getElementById("auth-notice").textContent = notice;
  const token = resetToken();
  if (token) {
    showReset(token);
    return;
  }
  const tabs = document.getElementById("auth-tabs");
  tabs.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) selectTab(tab.dataset.form);
  });
  tabs.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const all = [...tabs.querySelectorAll("[role=tab]")];
    const at = all.indexOf(document.activeElement);
    const next = all[(at + (event.key === "ArrowRight" ? 1 : all.length - 1)) % all.length];
    selectTab(next.dataset.form);
    next.focus();
  });
  for (const [name, spec] of Object.entries(FORMS)) {
    const form = document.getElementById(`${name}-form`);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitting(form, spec.busy, async () => {
        const session = await spec.call(fieldsOf(form, spec.fields));
        form.reset();
        onSession(session);
      });
    });
  }
  const invite = new URLSearchParams(location.hash.slice(1)).get("join");
  if (invite) {
    document.getElementById("join-invite-code").value = invite;
    selectTab("join");
  } else {
    selectTab("login");
  }
}

/** The reset form alone; once the password is set, the login form with a notice. */
function showReset(token) {
  document.getElementById("auth-tabs").hidden = true;
  for (const name of Object.keys(FORMS)) document.getElementById(`${name}-form`).hidden = true;
  const form = document.getElementById("reset-form");
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, "Saving…", async () => {
      await api.resetPassword({ token, ...fieldsOf(form, ["new_password"]) });
      form.reset();
      // A fresh page at the login form: no session of before survives a reset.
      history.replaceState(null, "", `${location.pathname}#password-changed`);
      location.reload();
    });
  });
}

export function hideAuth() {
  document.getElementById("auth-screen").hidden = true;
}
