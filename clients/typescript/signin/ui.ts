// What every part of the sign-in page shares: finding elements, the status line and the alert
// box, errors shown at the field they are about, and `busy`, which runs an action from a button
// and puts focus on its outcome.

import { describeError, violatedField } from "../src/messages.js";

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

/** The value of the form's input named `name`. */
export function field(form: HTMLFormElement, name: string): string {
  return (form.elements.namedItem(name) as HTMLInputElement).value;
}

export function say(message: string) {
  const errorBox = $("error");
  errorBox.hidden = true;
  errorBox.textContent = "";
  $("status").textContent = message;
}

/**
 * Shows what went wrong: next to the field it is about (aria-invalid, aria-describedby, focus on
 * the field) when the failure names a field of `form`, else in the alert box, which gets focus.
 */
export function fail(error: unknown, form?: HTMLFormElement | null) {
  $("status").textContent = "";
  const violated = violatedField(error);
  const input = violated ? form?.querySelector<HTMLInputElement>(`input[name="${violated}"]`) : null;
  if (input) {
    showFieldError(input, describeError(error));
    return;
  }
  const errorBox = $("error");
  errorBox.textContent = describeError(error);
  errorBox.hidden = false;
  errorBox.focus();
}

let fieldErrors = 0;
export function showFieldError(input: HTMLInputElement, message: string) {
  if (!input.id) input.id = `field-${++fieldErrors}`;
  const id = `${input.id}-error`;
  let note = document.getElementById(id);
  if (!note) {
    note = document.createElement("p");
    note.id = id;
    note.className = "field-error";
    input.insertAdjacentElement("afterend", note);
  }
  note.textContent = message;
  note.hidden = false;
  input.setAttribute("aria-invalid", "true");
  const describedBy = (input.getAttribute("aria-describedby") ?? "").split(/\s+/).filter(Boolean);
  if (!describedBy.includes(id)) input.setAttribute("aria-describedby", [id, ...describedBy].join(" "));
  input.focus();
}

export function clearFieldErrors(form: HTMLFormElement | null | undefined) {
  for (const input of form?.querySelectorAll<HTMLInputElement>("input[aria-invalid]") ?? []) {
    const id = `${input.id}-error`;
    input.removeAttribute("aria-invalid");
    const rest = (input.getAttribute("aria-describedby") ?? "").split(/\s+/).filter((ref) => ref && ref !== id);
    if (rest.length) input.setAttribute("aria-describedby", rest.join(" "));
    else input.removeAttribute("aria-describedby");
    const note = document.getElementById(id);
    if (note) note.hidden = true;
  }
}

export function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || (error as { kind?: string }).kind === "AbortError");
}

/**
 * Runs `action` with `button` disabled. Afterwards focus is on the outcome: the first field the
 * failure names, the alert box, or the status message, so a screen reader says what happened —
 * or the element `action` returns, when it asks for something next (a mailed code).
 */
export async function busy(button: HTMLButtonElement | null, action: () => Promise<HTMLElement | void>) {
  // A new attempt clears the last outcome, so what shows is always about this one.
  say("");
  const form = button?.closest("form");
  clearFieldErrors(form);
  if (button) button.disabled = true;
  try {
    const next = await action();
    if (next) next.focus();
    else if ($("status").textContent) $("status").focus();
  } catch (error) {
    if (!isAbort(error)) fail(error, form);
  } finally {
    if (button) button.disabled = false;
  }
}
