// Numbers as the dashboard says them: durations, rates, bucket labels, periods.

export function seconds(v) {
  if (v === null || v === undefined) return "–";
  if (v < 1) return `${Math.round(v * 1000)} ms`;
  if (v < 90) return `${v.toFixed(1)} s`;
  if (v < 5400) return `${(v / 60).toFixed(1)} min`;
  return `${(v / 3600).toFixed(1)} h`;
}

export function percent(v) {
  return v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)} %`;
}

export function bucketLabel(iso, bucket) {
  const d = new Date(iso);
  if (bucket === "hour") return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString([], { month: "short", day: "numeric" });
}

// An ISO 8601 time with this browser's offset, as the API wants it: 2026-12-02T00:00:00+02:00.
export function isoLocal(d) {
  const pad = (n) => String(Math.abs(n)).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
}

export const PERIODS = [
  { id: "today", label: "Today", days: 1, bucket: "hour" },
  { id: "7d", label: "7 days", days: 7, bucket: "day" },
  { id: "30d", label: "30 days", days: 30, bucket: "day" },
  { id: "custom", label: "Custom" },
];

// The preset periods end now and start at a local midnight (today, or 6 / 29 days before).
export function presetRange(id, now = new Date()) {
  const p = PERIODS.find((x) => x.id === id);
  const start = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (p.days - 1));
  return { from: isoLocal(start), to: isoLocal(now), bucket: p.bucket };
}

// <input type="datetime-local"> gives "2026-12-02T09:30"; the API wants an offset.
export function fromLocalInput(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : isoLocal(d);
}
