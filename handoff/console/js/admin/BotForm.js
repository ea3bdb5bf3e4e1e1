// A bot's settings as a form: create (name and the rest) or edit (PATCH of every field).
import { html, useState } from "../lib.js";
import { Field, errorFor, otherError } from "./fields.js";
import { HoursFields, hoursBody, hoursForm } from "./hours.js";

const FIELDS = ["name", "assignment_mode", "wait_limit_seconds", "max_queue_length", "webhook_url",
  "webhook_secret", "escalate_on_break", "fallback_message", "business_hours"];

function initial(bot) {
  return {
    name: bot ? bot.name : "",
    assignment_mode: bot ? bot.assignment_mode : "auto",
    wait_limit_seconds: bot && bot.wait_limit_seconds != null ? String(bot.wait_limit_seconds) : "",
    max_queue_length: bot && bot.max_queue_length != null ? String(bot.max_queue_length) : "",
    webhook_url: (bot && bot.webhook_url) || "",
    webhook_secret: "",
    escalate_on_break: !!(bot && bot.escalate_on_break),
    fallback_message: (bot && bot.fallback_message) || "",
    hours: hoursForm(bot && bot.business_hours),
  };
}

const number = (text) => (text.trim() === "" ? null : Number(text));
const orNull = (text) => (text.trim() === "" ? null : text.trim());

/** `onSave(body)` sends it and may throw an ApiError, shown beside the field it names. */
export function BotForm({ bot, onSave, onCancel }) {
  const [f, setF] = useState(() => initial(bot));
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.type === "checkbox" ? e.currentTarget.checked : e.currentTarget.value });
  const submit = async (e) => {
    e.preventDefault();
    setErr(null);
    let body;
    try {
      body = {
        name: f.name.trim(),
        assignment_mode: f.assignment_mode,
        wait_limit_seconds: number(f.wait_limit_seconds),
        max_queue_length: number(f.max_queue_length),
        webhook_url: orNull(f.webhook_url),
        escalate_on_break: f.escalate_on_break,
        fallback_message: orNull(f.fallback_message),
        business_hours: hoursBody(f.hours),
      };
    } catch (bad) { setErr(bad); return; }
    if (f.webhook_secret) body.webhook_secret = f.webhook_secret;
    if (!bot) for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
    setBusy(true);
    try { await onSave(body); } catch (e2) { setErr(e2); } finally { setBusy(false); }
  };
  const id = (k) => `bot-${k}`;
  return html`
    <form class="card admin-form" onSubmit=${submit} aria-label=${bot ? `Settings of ${bot.name}` : "New bot"} novalidate>
      <h2>${bot ? `Settings of ${bot.name}` : "New bot"}</h2>
      <div class="form-grid">
        <${Field} id=${id("name")} label="Name" error=${errorFor(err, "name")}>
          ${(p) => html`<input type="text" ...${p} value=${f.name} onInput=${set("name")} required />`}
        <//>
        <${Field} id=${id("mode")} label="Assignment" error=${errorFor(err, "assignment_mode")}
          hint="Auto: the least loaded agent gets it. Manual: offered to all, first to accept.">
          ${(p) => html`<select ...${p} value=${f.assignment_mode} onChange=${set("assignment_mode")}>
            <option value="auto">Auto</option><option value="manual">Manual</option></select>`}
        <//>
        <${Field} id=${id("wait")} label="Wait limit (seconds)" error=${errorFor(err, "wait_limit_seconds")}
          hint="How long a person waits for an agent; empty: the server's default.">
          ${(p) => html`<input type="number" min="1" ...${p} value=${f.wait_limit_seconds} onInput=${set("wait_limit_seconds")} />`}
        <//>
        <${Field} id=${id("queue")} label="Queue limit" error=${errorFor(err, "max_queue_length")}
          hint="Waiting conversations at most; empty: no limit.">
          ${(p) => html`<input type="number" min="1" ...${p} value=${f.max_queue_length} onInput=${set("max_queue_length")} />`}
        <//>
        <${Field} id=${id("webhook")} label="Webhook URL" error=${errorFor(err, "webhook_url")}
          hint="Where the bot hears of queued, assigned, closed; empty: no webhooks.">
          ${(p) => html`<input type="text" inputmode="url" ...${p} placeholder="https://bot.example.com/handoff" value=${f.webhook_url} onInput=${set("webhook_url")} />`}
        <//>
        <${Field} id=${id("secret")} label="Webhook secret" error=${errorFor(err, "webhook_secret")}
          hint=${bot && bot.webhook_secret_set ? "Set (write-only). Type a new one to replace it." : "Not set: webhooks go unsigned. 16 to 200 characters."}>
          ${(p) => html`<input type="password" autocomplete="new-password" ...${p} value=${f.webhook_secret} onInput=${set("webhook_secret")} />`}
        <//>
      </div>
      <${Field} id=${id("fallback")} label="Fallback message" error=${errorFor(err, "fallback_message")}
        hint="Said to the person when no agent can take the conversation; empty: the preset text.">
        ${(p) => html`<textarea rows="2" ...${p} value=${f.fallback_message} onInput=${set("fallback_message")}></textarea>`}
      <//>
      <label class="choice">
        <input type="checkbox" checked=${f.escalate_on_break} onChange=${set("escalate_on_break")} />
        <span>Escalate to an agent when the bot breaks (a custom action fails)</span>
      </label>
      ${errorFor(err, "escalate_on_break") && html`<p class="inline-error" role="alert">${errorFor(err, "escalate_on_break")}</p>`}
      <${HoursFields} form=${f.hours} set=${(hours) => setF({ ...f, hours })} err=${err} />
      ${otherError(err, FIELDS) && html`<p class="inline-error" role="alert">${otherError(err, FIELDS)}</p>`}
      <div class="dialog-actions">
        <button type="button" class="btn" onClick=${onCancel}>Cancel</button>
        <button type="submit" class="btn btn-primary" disabled=${busy}>${bot ? "Save settings" : "Create bot"}</button>
      </div>
    </form>`;
}
