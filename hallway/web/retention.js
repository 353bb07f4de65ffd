// The company's message retention (admins), in the Manage people dialog: keep messages
// forever or for a number of days, and whether expired messages are archived first
// (docs/retention.md). Loaded each time the dialog opens: another admin may have changed it.

import { api } from "./api.js";
import { clearErrors, showErrors } from "./forms.js";

export function wireRetention() {
  const form = document.getElementById("retention-form");
  const days = form.elements.days;
  const done = document.getElementById("retention-done");

  const show = ({ retention, archive_expired }) => {
    const forever = retention === "forever";
    form.elements.keep.value = forever ? "forever" : "days";
    days.value = forever ? "" : String(retention);
    days.disabled = forever;
    form.elements.archive_expired.checked = archive_expired;
  };

  form.addEventListener("change", (event) => {
    if (event.target.name !== "keep") return;
    days.disabled = form.elements.keep.value === "forever";
    if (!days.disabled) days.focus();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    done.textContent = "";
    const forever = form.elements.keep.value === "forever";
    // A number the server checks (1 to 36,500 whole days); text that is no number goes
    // as it is, so the server's sentence says what it takes.
    const typed = days.value.trim();
    const retention = forever ? "forever" : /^\d+$/.test(typed) ? Number(typed) : typed;
    try {
      show(await api.setRetention({ retention, archive_expired: form.elements.archive_expired.checked }));
      done.textContent = forever
        ? "Messages are kept forever."
        : `Messages are kept for ${retention} days, then erased.`;
    } catch (failure) {
      showErrors(form, failure);
    }
  });

  document.getElementById("manage-people").addEventListener("click", async () => {
    clearErrors(form);
    done.textContent = "";
    try {
      show(await api.retention());
    } catch (failure) {
      showErrors(form, failure);
    }
  });
}
