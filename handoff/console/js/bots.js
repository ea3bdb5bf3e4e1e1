// The bots a page may work on: GET /api/v1/bots (every bot for an admin, the bots they
// serve for anyone else), so an admin's Actions and Dashboard pages reach bots they do
// not serve themselves. Until it answers (or if it fails), the bots of GET /agents/me.
import { useEffect, useState } from "./lib.js";
import { request } from "./api.js";

export function useBots(s) {
  const mine = (s.me && s.me.bot_details) || [];
  const [all, setAll] = useState(null);
  useEffect(() => {
    let stopped = false;
    request("GET", "/api/v1/bots", { token: s.token })
      .then((r) => { if (!stopped) setAll(r.bots.map((b) => ({ id: b.id, name: b.name }))); })
      .catch(() => { /* the agent's own bots stay shown */ });
    return () => { stopped = true; };
  }, [s.token]);
  return all || mine;
}
