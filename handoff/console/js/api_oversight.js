// The supervisor's REST calls (docs/rest.md, "Supervisors"). Watching, taking over and
// transferring go over the /agent socket instead (oversight.js).
import { request } from "./api.js";

const enc = encodeURIComponent;

export const oversightApi = {
  /** GET /bots/{id}/conversations: the bot's conversations queued or assigned now. */
  inProgress: (token, botId, { state, limit } = {}) => {
    const query = new URLSearchParams();
    if (state) query.set("state", state);
    if (limit) query.set("limit", String(limit));
    const qs = query.toString();
    return request("GET", `/api/v1/bots/${enc(botId)}/conversations${qs ? "?" + qs : ""}`, { token });
  },
};
