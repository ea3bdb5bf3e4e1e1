// Now: per bot, its queue and longest wait, conversations in progress, and its agents
// with status, load and capacity. Refreshed every few seconds while the tab is
// visible; a hidden tab asks nothing, and catches up the moment it is shown again.
import { html, useEffect, useState } from "../lib.js";
import { statsApi } from "../api_stats.js";
import { seconds } from "./format.js";
import { LiveConversations } from "../pages/LiveConversations.js";

export const LIVE_REFRESH_MS = 5000;

function useLive(token, botId) {
  const [live, setLive] = useState(null);
  const [error, setError] = useState(null);
  const [asked, setAsked] = useState(0); // bumped by reload(): read again now
  useEffect(() => {
    let stopped = false;
    let timer = null;
    const load = async () => {
      clearTimeout(timer);
      if (document.visibilityState !== "visible") return;
      try {
        const data = await statsApi.live(token, botId || undefined);
        if (!stopped) { setLive(data); setError(null); }
      } catch (err) {
        if (!stopped) setError(err.message);
      }
      if (!stopped) timer = setTimeout(load, LIVE_REFRESH_MS);
    };
    const onVisible = () => { if (document.visibilityState === "visible") load(); else clearTimeout(timer); };
    document.addEventListener("visibilitychange", onVisible);
    load();
    return () => { stopped = true; clearTimeout(timer); document.removeEventListener("visibilitychange", onVisible); };
  }, [token, botId, asked]);
  return { live, error, reload: () => setAsked((n) => n + 1) };
}

function Agents({ agents }) {
  if (!agents.length) return html`<p class="empty">No agents serve this bot.</p>`;
  return html`
    <ul class="live-agents">
      ${agents.map((a) => html`
        <li class="live-agent">
          <span class=${`dot dot-${a.status}`} aria-hidden="true"></span>
          <span class="person">${a.name}</span>
          <span class="muted small">${a.status}</span>
          <span class="load small" aria-label=${`load ${a.load} of ${a.capacity}`}><span class="load-num">${a.load}</span> / ${a.capacity}</span>
        </li>`)}
    </ul>`;
}

export function LivePanel({ s, ctl, botId }) {
  const { live, error, reload } = useLive(s.token, botId);
  return html`
    <section class="card live" aria-labelledby="live-h">
      <div class="chart-head">
        <h2 id="live-h">Now</h2>
        <span class="muted small" role="status">${error ? "" : live ? `Updated ${new Date(live.at).toLocaleTimeString()}` : "Loading…"}</span>
      </div>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
      ${live && !live.bots.length && html`<p class="empty">No bots to show.</p>`}
      ${live && live.bots.map((b) => html`
        <div class="live-bot" data-bot=${b.bot_id}>
          <h3>${b.name}</h3>
          <dl class="kpis kpis-live">
            <div class="kpi"><dt>Queue</dt><dd data-kpi="queue_length">${b.queue_length}</dd></div>
            <div class="kpi"><dt>Longest wait</dt><dd data-kpi="longest_wait">${seconds(b.longest_wait_seconds)}</dd></div>
            <div class="kpi"><dt>In progress</dt><dd data-kpi="in_progress">${b.in_progress}</dd></div>
            <div class="kpi"><dt>Online</dt><dd data-kpi="agents_online">${b.agents_online}</dd></div>
            <div class="kpi"><dt>Away</dt><dd data-kpi="agents_away">${b.agents_away}</dd></div>
            <div class="kpi"><dt>Offline</dt><dd data-kpi="agents_offline">${b.agents_offline}</dd></div>
          </dl>
          <${Agents} agents=${b.agents} />
        </div>`)}
      <${LiveConversations} s=${s} ctl=${ctl} botId=${botId} onRefresh=${reload} />
    </section>`;
}
