// Business hours as a form: a time zone, each day's open ranges ("09:00-12:00, 13:00-17:00";
// empty: closed) and closed dates. Converts to and from the BusinessHours REST shape.
import { html } from "../lib.js";
import { Field, errorFor, splitList } from "./fields.js";

export const DAYS = [
  ["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"],
  ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"],
];
const RANGE = /^(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})$/;

function zones() {
  try { return Intl.supportedValuesOf("timeZone"); } catch (err) { return ["UTC"]; }
}

/** The form's state from a bot's stored hours (null: always open). */
export function hoursForm(bh) {
  const weekly = (bh && bh.weekly) || {};
  const days = {};
  for (const [d] of DAYS) days[d] = (weekly[d] || []).map(([a, b]) => `${a}-${b}`).join(", ");
  if (!bh) for (const d of ["mon", "tue", "wed", "thu", "fri"]) days[d] = "09:00-17:00";
  return {
    open: !!bh,
    time_zone: (bh && bh.time_zone) || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
    days,
    holidays: ((bh && bh.holidays) || []).join(", "),
  };
}

const pad = (t) => (t.length === 4 ? "0" + t : t);

/** The REST body's business_hours, or throws {field, message} for a day that does not parse. */
export function hoursBody(form) {
  if (!form.open) return null;
  const weekly = {};
  for (const [d, label] of DAYS) {
    const ranges = splitList(form.days[d]).map((r) => {
      const m = RANGE.exec(r);
      if (!m) throw { field: `business_hours.weekly.${d}`, message: `${label}: write ranges as 09:00-17:00, separated by commas` };
      return [pad(m[1]), pad(m[2])];
    });
    if (ranges.length) weekly[d] = ranges;
  }
  return { time_zone: form.time_zone, weekly, holidays: splitList(form.holidays) };
}

export function HoursFields({ form, set, err }) {
  const update = (patch) => set({ ...form, ...patch });
  return html`
    <fieldset class="hours">
      <legend>Business hours</legend>
      <label class="choice">
        <input type="checkbox" checked=${!form.open} onChange=${(e) => update({ open: !e.currentTarget.checked })} />
        <span>Always open (no business hours)</span>
      </label>
      ${form.open && html`
        <${Field} id="bh-zone" label="Time zone" error=${errorFor(err, "business_hours.time_zone")}>
          ${(p) => html`<select ...${p} value=${form.time_zone} onChange=${(e) => update({ time_zone: e.currentTarget.value })}>
            ${zones().map((z) => html`<option value=${z}>${z}</option>`)}
          </select>`}
        <//>
        <div class="hours-grid">
          ${DAYS.map(([d, label]) => html`
            <${Field} id=${`bh-${d}`} label=${label} error=${errorFor(err, `business_hours.weekly.${d}`)}>
              ${(p) => html`<input type="text" ...${p} placeholder="closed" value=${form.days[d]}
                onInput=${(e) => update({ days: { ...form.days, [d]: e.currentTarget.value } })} />`}
            <//>`)}
        </div>
        <p class="small muted">Hours as 09:00-17:00; several ranges separated by commas; empty: closed that day. An end before the start runs past midnight.</p>
        <${Field} id="bh-holidays" label="Holidays (closed all day)" hint="Dates as YYYY-MM-DD, separated by commas."
          error=${errorFor(err, "business_hours.holidays")}>
          ${(p) => html`<input type="text" ...${p} placeholder="2026-12-25, 2026-12-26" value=${form.holidays}
            onInput=${(e) => update({ holidays: e.currentTarget.value })} />`}
        <//>`}
      ${errorFor(err, "business_hours") && !["time_zone", "weekly", "holidays"].some((k) => errorFor(err, `business_hours.${k}`))
        && html`<p class="inline-error" role="alert">${errorFor(err, "business_hours")}</p>`}
    </fieldset>`;
}
