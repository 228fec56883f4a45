// HTTP to the fieldops server. DOM-free (used by the service worker's Background Sync too).
import { kvGet, kvSet } from "./db.js";

export const BASE = new URL("../../", import.meta.url).pathname; // the server root, "/" normally

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function request(method, path, { json, body, headers = {}, auth = true } = {}) {
  const h = { ...headers };
  if (auth) {
    const token = await kvGet("token");
    if (token) h.Authorization = `Bearer ${token}`;
  }
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const response = await fetch(BASE + path.replace(/^\//, ""), { method, headers: h, body });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data };
}

export async function login(username, password) {
  const { data } = await request("POST", "api/auth/login", { json: { username, password }, auth: false });
  await kvSet("token", data.token);
  await kvSet("token_at", Date.now());
  await kvSet("user", data.user);
  return data.user;
}

// Keep the login across restarts: swap a still-valid token for a fresh one. A 401 here
// only asks for a new login; the outbox is never touched.
export async function refreshToken() {
  const { data } = await request("POST", "api/patrols/token");
  await kvSet("token", data.token);
  await kvSet("token_at", Date.now());
}
