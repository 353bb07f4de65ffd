// Invite people (admins): the company's invites that can still be used, with their links,
// how many joined with each and when it expires; creating one (for how many people, for how
// long), copying its link, revoking it. A revoked invite stays in the list, marked, until
// the dialog is opened again (the server lists only the invites still good).

import { api } from "./api.js";
import { h, relativeTime } from "./dom.js";
import { clearErrors, friendly, submitting } from "./forms.js";

/** The link that opens the join form with the code filled in (auth.js). */
export function inviteLink(code) {
  return `${location.origin}/#join=${encodeURIComponent(code)}`;
}

export function wireInvites() {
  const dialog = document.getElementById("invite-dialog");
  const form = document.getElementById("invite-form");
  const list = document.getElementById("invite-list");
  const error = document.getElementById("invites-error");
  const done = document.getElementById("invite-done");
  let invites = []; // newest first, each with `revoked` once revoked here

  const draw = () => {
    list.replaceChildren(...invites.map(inviteItem));
    if (!invites.length) list.append(h("li", { class: "empty" }, "No invites can be used now."));
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    done.textContent = "";
    submitting(form, "Creating…", async () => {
      const invite = await api.invite(inviteFields(form));
      invites = [invite, ...invites];
      draw();
      done.textContent = "Invite created: copy its link and send it to the people to invite.";
    });
  });

  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const { code } = button.closest("[data-code]").dataset;
    error.textContent = "";
    done.textContent = "";
    if (button.dataset.action === "copy") {
      try {
        await navigator.clipboard.writeText(inviteLink(code));
        done.textContent = "Link copied.";
      } catch {
        error.textContent = "The link could not be copied: select it and copy it yourself.";
      }
      return;
    }
    button.disabled = true;
    try {
      await api.revokeInvite(code);
    } catch (failure) {
      // Already gone (404: revoked elsewhere) is what was asked for.
      if (failure.status !== 404) {
        error.textContent = friendly(failure);
        button.disabled = false;
        return;
      }
    }
    invites = invites.map((i) => (i.code === code ? { ...i, revoked: true } : i));
    draw();
    done.textContent = "Invite revoked: nobody joins with it from now on.";
    dialog.querySelector("[data-close]").focus();
  });

  document.getElementById("invite-people").addEventListener("click", async () => {
    form.reset();
    clearErrors(form);
    error.textContent = "";
    done.textContent = "";
    invites = [];
    list.replaceChildren(h("li", {}, "Loading…"));
    dialog.showModal();
    try {
      ({ invites } = await api.invites());
      draw();
    } catch (failure) {
      list.replaceChildren();
      error.textContent = friendly(failure);
    }
  });
}

/** {max_uses, expires_in}: empty fields are left to the server (any number of people, as
 * long as it allows). */
function inviteFields(form) {
  const maxUses = form.elements.max_uses.value.trim();
  const expiresIn = form.elements.expires_in.value;
  return {
    max_uses: maxUses === "" ? null : Number(maxUses),
    expires_in: expiresIn === "" ? null : Number(expiresIn),
  };
}

function inviteItem(invite) {
  const link = inviteLink(invite.code);
  const linkId = `invite-${invite.code}`;
  const joined =
    invite.max_uses === null
      ? `${invite.uses} joined (no limit)`
      : `${invite.uses} of ${invite.max_uses} joined`;
  return h(
    "li",
    { class: invite.revoked ? "invite revoked" : "invite", dataset: { code: invite.code } },
    h(
      "div",
      { class: "about" },
      h("code", { class: "link", id: linkId }, link),
      h(
        "span",
        { class: "uses" },
        joined,
        invite.revoked ? null : h("span", {}, " · expires ", relativeTime(invite.expires_at)),
      ),
    ),
    invite.revoked
      ? h("span", { class: "tag state" }, "Revoked")
      : h(
          "span",
          { class: "buttons" },
          h(
            "button",
            { type: "button", dataset: { action: "copy" }, "aria-describedby": linkId },
            "Copy link",
          ),
          h(
            "button",
            {
              type: "button",
              class: "danger",
              dataset: { action: "revoke" },
              "aria-describedby": linkId,
            },
            "Revoke",
          ),
        ),
  );
}
