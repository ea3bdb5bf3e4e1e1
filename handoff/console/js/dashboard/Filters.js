// The period (today / 7 days / 30 days / custom) and the filters (bot, team, agent).
// An error the API gave for one of them is shown beside that control.
import { html, useEffect, useState } from "../lib.js";
import { useBots } from "../bots.js";
import { api } from "../api.js";
import { PERIODS } from "./format.js";

function FieldError({ errors, field }) {
  const message = errors[field];
  return message ? html`<p class="inline-error" id=${`err-${field}`} role="alert">${message}</p>` : null;
}

function useColleagues(token, botId) {
  const [list, setList] = useState({ agents: [], teams: [] });
  useEffect(() => {
    if (!botId) { setList({ agents: [], teams: [] }); return undefined; }
    let stopped = false;
    api.botAgents(token, botId).then(
      (data) => { if (!stopped) setList(data); },
      () => { if (!stopped) setList({ agents: [], teams: [] }); },
    );
    return () => { stopped = true; };
  }, [token, botId]);
  return list;
}

export function Filters({ s, f, set, errors, onCsv, busy }) {
  const bots = useBots(s);
  const { agents, teams } = useColleagues(s.token, f.botId);
  const described = (field) => (errors[field] ? `err-${field}` : undefined);
  return html`
    <form class="card filters" aria-label="Period and filters" onSubmit=${(e) => e.preventDefault()}>
      <div class="filter">
        <span class="filter-label" id="period-label">Period</span>
        <div class="segmented" role="group" aria-labelledby="period-label">
          ${PERIODS.map((p) => html`
            <button type="button" class="btn btn-sm" aria-pressed=${f.period === p.id ? "true" : "false"}
              onClick=${() => set({ period: p.id })}>${p.label}</button>`)}
        </div>
        <${FieldError} errors=${errors} field="period" />
      </div>
      ${f.period === "custom" && html`
        <div class="filter">
          <label class="filter-label" for="f-from">From</label>
          <input id="f-from" type="datetime-local" value=${f.from} aria-describedby=${described("from")}
            onChange=${(e) => set({ from: e.currentTarget.value })} />
          <${FieldError} errors=${errors} field="from" />
        </div>
        <div class="filter">
          <label class="filter-label" for="f-to">To</label>
          <input id="f-to" type="datetime-local" value=${f.to} aria-describedby=${described("to")}
            onChange=${(e) => set({ to: e.currentTarget.value })} />
          <${FieldError} errors=${errors} field="to" />
        </div>
        <div class="filter">
          <label class="filter-label" for="f-bucket">Step</label>
          <select id="f-bucket" value=${f.bucket} aria-describedby=${described("bucket")}
            onChange=${(e) => set({ bucket: e.currentTarget.value })}>
            <option value="">Automatic</option>
            <option value="hour">Hour</option>
            <option value="day">Day</option>
          </select>
          <${FieldError} errors=${errors} field="bucket" />
        </div>`}
      <div class="filter">
        <label class="filter-label" for="f-bot">Bot</label>
        <select id="f-bot" value=${f.botId} aria-describedby=${described("bot_id")}
          onChange=${(e) => set({ botId: e.currentTarget.value, team: "", agentId: "" })}>
          <option value="">All my bots</option>
          ${bots.map((b) => html`<option value=${b.id}>${b.name}</option>`)}
        </select>
        <${FieldError} errors=${errors} field="bot_id" />
      </div>
      <div class="filter">
        <label class="filter-label" for="f-team">Team</label>
        <select id="f-team" value=${f.team} disabled=${!f.botId} aria-describedby=${described("team")}
          onChange=${(e) => set({ team: e.currentTarget.value })}>
          <option value="">${f.botId ? "All teams" : "Pick a bot first"}</option>
          ${teams.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
        <${FieldError} errors=${errors} field="team" />
      </div>
      <div class="filter">
        <label class="filter-label" for="f-agent">Agent</label>
        <select id="f-agent" value=${f.agentId} disabled=${!f.botId} aria-describedby=${described("agent_id")}
          onChange=${(e) => set({ agentId: e.currentTarget.value })}>
          <option value="">${f.botId ? "All agents" : "Pick a bot first"}</option>
          ${agents.map((a) => html`<option value=${a.id}>${a.name}</option>`)}
        </select>
        <${FieldError} errors=${errors} field="agent_id" />
      </div>
      <div class="filter filter-end">
        <button type="button" class="btn" onClick=${onCsv} disabled=${busy}>Download CSV</button>
        <${FieldError} errors=${errors} field="csv" />
      </div>
    </form>`;
}
