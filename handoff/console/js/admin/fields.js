// Form pieces the admin tabs share: a labelled control with its error beside it, and the
// mapping of a server error's `field` ("bots.bot_1", "business_hours.weekly.mon.0.0") to
// the control that caused it.
import { html } from "../lib.js";
import { explain } from "../messages.js";

/** The error's message when it names `name` or a part inside it, else null. */
export function errorFor(err, name) {
  if (!err || !err.field) return null;
  return err.field === name || err.field.startsWith(name + ".") ? messageOf(err) : null;
}

/** What to show: the server's own words, except where the console says it better. */
export function messageOf(err) {
  if (!err) return "";
  if (["network", "unauthorized", "rate_limited", "storage_unavailable"].includes(err.code)) {
    return explain(err);
  }
  let text = err.message || explain(err);
  // A validation message starts with the field's path ("password: String should…"):
  // beside the control, the path says nothing; pydantic's "Value error, " neither.
  if (err.field && text.startsWith(err.field + ": ")) text = text.slice(err.field.length + 2);
  text = text.replace(/^Value error, /, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The error when no control in `names` shows it (shown once, at the form's foot). */
export function otherError(err, names) {
  if (!err) return null;
  return names.some((n) => errorFor(err, n)) ? null : messageOf(err);
}

/** A label, its control (given the id and aria props) and the control's error below. */
export function Field({ id, label, error, hint, children }) {
  const describedBy = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ") || undefined;
  return html`
    <div class="field">
      <label for=${id}>${label}</label>
      ${children({ id, "aria-invalid": error ? "true" : undefined, "aria-describedby": describedBy })}
      ${hint && html`<p id=${`${id}-hint`} class="small muted">${hint}</p>`}
      ${error && html`<p id=${`${id}-error`} class="inline-error" role="alert">${error}</p>`}
    </div>`;
}

/** "a, b ,c" → ["a", "b", "c"] */
export function splitList(text) {
  return (text || "").split(",").map((t) => t.trim()).filter(Boolean);
}
