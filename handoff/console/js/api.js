// The REST client: only the public API of docs/rest.md. Every failure is an ApiError
// carrying the server's {code, message, field}, so a screen can show it by the control
// that caused it.

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

export async function request(method, path, { token, body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (err) {
    throw new ApiError(0, "network", "The server cannot be reached. Check the connection and try again.");
  }
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch (err) { data = null; }
  if (!resp.ok) {
    const e = (data && data.error) || {};
    let message = e.message || `The server answered ${resp.status}.`;
    if (resp.status === 429) {
      const wait = resp.headers.get("Retry-After");
      if (wait) message = `${message} Try again in ${wait} s.`;
    }
    throw new ApiError(resp.status, e.code || "http_" + resp.status, message, e.field);
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  login: (email, password) => request("POST", "/api/v1/auth/login", { body: { email, password } }),
  me: (token) => request("GET", "/api/v1/agents/me", { token }),
  botAgents: (token, botId) => request("GET", `/api/v1/bots/${enc(botId)}/agents`, { token }),
  canned: (token, botId) => request("GET", `/api/v1/bots/${enc(botId)}/canned-responses`, { token }),
  createCanned: (token, botId, body) =>
    request("POST", `/api/v1/bots/${enc(botId)}/canned-responses`, { token, body }),
  updateCanned: (token, botId, id, body) =>
    request("PUT", `/api/v1/bots/${enc(botId)}/canned-responses/${enc(id)}`, { token, body }),
  deleteCanned: (token, botId, id) =>
    request("DELETE", `/api/v1/bots/${enc(botId)}/canned-responses/${enc(id)}`, { token }),
  notes: (token, cid) => request("GET", `/api/v1/conversations/${enc(cid)}/notes`, { token }),
  addNote: (token, cid, text) =>
    request("POST", `/api/v1/conversations/${enc(cid)}/notes`, { token, body: { text } }),
  setTags: (token, cid, tags) =>
    request("PUT", `/api/v1/conversations/${enc(cid)}/tags`, { token, body: { tags } }),
  offlineHandled: (token, botId, messageId) =>
    request("POST", `/api/v1/bots/${enc(botId)}/offline-messages/${enc(messageId)}/handled`, { token }),
};
