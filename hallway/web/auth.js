// Log in, create a company, or join one with an invite code (also from an invite link:
// /#join=CODE); finish either from the mailed link (/#/welcome/TOKEN); or choose a new
// password from an admin's reset link (/#/reset/TOKEN).

import { api } from "./api.js";
import { fieldsOf, submitting } from "./forms.js";

// Logging in answers a session; a sign-up or a join answers where the link to finish it
// was mailed (`pending`).
const FORMS = {
  login: { call: api.login, fields: ["email", "password"], busy: "Logging in…" },
  signup: {
    call: api.signup,
    fields: ["company_name", "display_name", "email", "password"],
    busy: "Creating…",
    pending: true,
  },
  join: {
    call: api.join,
    fields: ["invite_code", "display_name", "email", "password"],
    busy: "Joining…",
    pending: true,
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

function linkToken(kind) {
  const match = new RegExp(`^#/${kind}/([^/]+)$`).exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

/** The token of a password-reset link the page was opened with, if any. */
export const resetToken = () => linkToken("reset");

/** The token of a mailed link that finishes a sign-up or join, if the page was opened with
 * one. */
export const welcomeToken = () => linkToken("welcome");

function showForms(visible) {
  document.getElementById("auth-tabs").hidden = !visible;
  for (const name of Object.keys(FORMS)) document.getElementById(`${name}-form`).hidden = true;
}

/** Tell where the link went; the forms stay hidden until the page is opened again. */
function showPending({ email, expires_in }) {
  showForms(false);
  const hours = Math.round(expires_in / 3600);
  document.getElementById("auth-notice").textContent =
    `Check your inbox: we sent a link to ${email}. Open it within ${hours} hours to finish. ` +
    "(A server without mail settings writes its mail to its outbox folder instead.)";
}

/** Open a welcome link: the account is created and the tab logged in. */
async function finishSignup(token, onSession) {
  const notice = document.getElementById("auth-notice");
  showForms(false);
  notice.textContent = "Finishing…";
  try {
    const session = await api.confirmSignup({ token });
    history.replaceState(null, "", location.pathname);
    notice.textContent = "";
    onSession(session);
  } catch (error) {
    history.replaceState(null, "", location.pathname);
    notice.textContent = error.message;
    showForms(true);
    selectTab("signup");
  }
}

/** Show the sign-in screen; `onSession` gets the session once one of the forms succeeds. */
export function showAuth(onSessionGiven, notice = "") {
  // A link pasted into this tab opens as it would in a new one.
  const openLink = () => {
    if (resetToken() || welcomeToken()) location.reload();
  };
  window.addEventListener("hashchange", openLink);
  const onSession = (session) => {
    window.removeEventListener("hashchange", openLink);
    onSessionGiven(session);
  };
  document.getElementById("auth-screen").hidden = false;
  document.getElementById("auth-notice").textContent = notice;
  const token = resetToken();
  if (token) {
    showReset(token);
    return;
  }
  const welcome = welcomeToken();
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
        const answer = await spec.call(fieldsOf(form, spec.fields));
        form.reset();
        if (spec.pending) showPending(answer);
        else onSession(answer);
      });
    });
  }
  const invite = new URLSearchParams(location.hash.slice(1)).get("join");
  if (welcome) {
    finishSignup(welcome, onSession);
  } else if (invite) {
    document.getElementById("join-invite-code").value = invite;
    selectTab("join");
  } else {
    selectTab("login");
  }
}

/** The reset form alone; once the password is set, the login form with a notice. */
function showReset(token) {
  showForms(false);
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
