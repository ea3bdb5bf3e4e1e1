// The admin API (docs/rest.md, "Admin"): bots, agents and teams. Same request semantics
// as api.js: a failure is an ApiError with the server's {code, message, field}.
import { request } from "./api.js";

const enc = encodeURIComponent;
const bot = (id) => `/api/v1/bots/${enc(id)}`;
const agent = (id) => `/api/v1/agents/${enc(id)}`;

export const adminApi = {
  bots: (token) => request("GET", "/api/v1/bots", { token }),
  createBot: (token, body) => request("POST", "/api/v1/bots", { token, body }),
  patchBot: (token, id, body) => request("PATCH", bot(id), { token, body }),
  rotateKey: (token, id) => request("POST", bot(id) + "/api-key", { token }),
  agents: (token) => request("GET", "/api/v1/agents", { token }),
  createAgent: (token, body) => request("POST", "/api/v1/agents", { token, body }),
  patchAgent: (token, id, body) => request("PATCH", agent(id), { token, body }),
  resetPassword: (token, id, password) =>
    request("POST", agent(id) + "/password", { token, body: password ? { password } : {} }),
  deleteAgent: (token, id) => request("DELETE", agent(id), { token }),
  teams: (token, botId) => request("GET", bot(botId) + "/teams", { token }),
  putTeam: (token, botId, team, members) =>
    request("PUT", `${bot(botId)}/teams/${enc(team)}`, { token, body: { members } }),
  renameTeam: (token, botId, team, name) =>
    request("PATCH", `${bot(botId)}/teams/${enc(team)}`, { token, body: { name } }),
  deleteTeam: (token, botId, team) => request("DELETE", `${bot(botId)}/teams/${enc(team)}`, { token }),
};
