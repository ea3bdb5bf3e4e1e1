// The Actions Dashboard's REST calls: the custom-action routes of docs/rest.md, called
// with the signed-in admin's token (the server's bot_for_builder accepts it).
import { request } from "./api.js";

const enc = encodeURIComponent;
const bot = (botId) => `/api/v1/bots/${enc(botId)}`;
const action = (botId, name) => `${bot(botId)}/actions/${enc(name)}`;

export const actionsApi = {
  list: (token, botId) => request("GET", `${bot(botId)}/actions`, { token }),
  get: (token, botId, name) => request("GET", `${action(botId, name)}?code=1`, { token }),
  save: (token, botId, name, code) =>
    request("PUT", action(botId, name), { token, body: { code } }),
  test: (token, botId, name, input, version) =>
    request("POST", `${action(botId, name)}/test`, { token, body: { input, version } }),
  publish: (token, botId, name, version) =>
    request("POST", `${action(botId, name)}/publish`, { token, body: { version } }),
  logs: (token, botId, name, { ok, stage, since, limit = 100 } = {}) => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (ok !== undefined && ok !== "") q.set("ok", ok);
    if (stage) q.set("stage", stage);
    if (since) q.set("since", since);
    return request("GET", `${action(botId, name)}/logs?${q}`, { token });
  },
  env: (token, botId) => request("GET", `${bot(botId)}/env`, { token }),
  putEnv: (token, botId, name, body) =>
    request("PUT", `${bot(botId)}/env/${enc(name)}`, { token, body }),
  deleteEnv: (token, botId, name) =>
    request("DELETE", `${bot(botId)}/env/${enc(name)}`, { token }),
};
