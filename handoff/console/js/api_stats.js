// The dashboard's REST calls: GET /api/v1/stats (JSON and CSV) and /stats/live.
import { ApiError, request } from "./api.js";

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const statsApi = {
  stats: (token, params) => request("GET", `/api/v1/stats${query(params)}`, { token }),
  live: (token, botId) => request("GET", `/api/v1/stats/live${query({ bot_id: botId })}`, { token }),
  // The CSV as a file: fetched with the token (a plain link could not carry it), then
  // handed to the browser as a download.
  async downloadCsv(token, params) {
    const resp = await fetch(`/api/v1/stats${query({ ...params, format: "csv" })}`, {
      headers: { Authorization: `Bearer ${token}`, Accept: "text/csv" }, credentials: "same-origin",
    });
    if (!resp.ok) {
      let e = {};
      try { e = (await resp.json()).error || {}; } catch (err) { e = {}; }
      throw new ApiError(resp.status, e.code || `http_${resp.status}`, e.message || `The server answered ${resp.status}.`, e.field);
    }
    const name = /filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "");
    const url = URL.createObjectURL(await resp.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = name ? name[1] : "handoff-stats.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  },
};
