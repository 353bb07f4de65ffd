// API errors on forms: each message next to the field the error names (details.field or
// details.fields[]), or at the top of the form when it names none.

export function clearErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
  }
  for (const slot of form.querySelectorAll(".field-error, .form-error")) slot.textContent = "";
}

export function showErrors(form, error) {
  clearErrors(form);
  let first = null;
  for (const [field, message] of error.fieldMessages ?? []) {
    const name = CSS.escape(field.split(".")[0]); // "member_ids.0" is about member_ids
    const slot = form.querySelector(`[data-error-for="${name}"]`);
    if (!slot) continue;
    slot.textContent = message;
    const input = form.querySelector(`[name="${name}"]`);
    input?.setAttribute("aria-invalid", "true");
    first ??= input;
  }
  if (first) first.focus();
  else form.querySelector(".form-error").textContent = error.message;
}

/** Run `action` with the form's submit button busy; errors land on the form. */
export async function submitting(form, busyLabel, action) {
  const button = form.querySelector("button[type=submit]");
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busyLabel;
  clearErrors(form);
  try {
    await action();
  } catch (error) {
    showErrors(form, error);
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

/** The form's fields as an object of trimmed strings (passwords untouched). */
export function fieldsOf(form, names) {
  const values = {};
  for (const name of names) {
    const input = form.elements.namedItem(name);
    values[name] = input.type === "password" ? input.value : input.value.trim();
  }
  return values;
}
