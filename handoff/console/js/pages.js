// The console's pages, who may open each, and the hash route that names it. An agent's
// role ranks agent < supervisor < admin; a page needs at least its role. The server
// checks the same roles on every REST route: hiding a link here is only a courtesy.

export const ROLE_RANK = { agent: 0, supervisor: 1, admin: 2 };

export const PAGES = [
  { id: "inbox", label: "Inbox", role: "agent" },
  { id: "dashboard", label: "Dashboard", role: "supervisor" },
  { id: "actions", label: "Actions", role: "admin" },
  { id: "admin", label: "Admin", role: "admin" },
];

export function hasRole(me, role) {
  return ((me && ROLE_RANK[me.role]) ?? 0) >= ROLE_RANK[role];
}

export function pagesFor(me) {
  return PAGES.filter((p) => hasRole(me, p.role));
}

// "#/actions/bot_1/greet" -> {page: "actions", rest: ["bot_1", "greet"]}
export function parseHash(hash) {
  const parts = (hash || "").replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const page = PAGES.some((p) => p.id === parts[0]) ? parts[0] : "inbox";
  return { page, rest: page === parts[0] ? parts.slice(1) : [] };
}

export function hashFor(page, ...rest) {
  return "#/" + [page, ...rest].map(encodeURIComponent).join("/");
}
