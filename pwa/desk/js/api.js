// The HTTP API: bearer token, the desk's client label, problem-detail errors, idempotent writes.

import { CLIENT_LABEL, STORAGE } from './config.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

// status 0: the request never got an answer (network down, server gone).
export class NetworkError extends ApiError {
  constructor(cause) {
    super(0, { detail: String(cause && cause.message ? cause.message : cause) });
  }
}

const session = {
  token: localStorage.getItem(STORAGE.token),
  user: JSON.parse(localStorage.getItem(STORAGE.user) || 'null'),
};
let onUnauthorized = () => {};

export function currentUser() {
  return session.user;
}

export function token() {
  return session.token;
}

export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function headers(extra = {}) {
  const result = { 'X-Fieldops-Client': CLIENT_LABEL, Accept: 'application/json', ...extra };
  if (session.token) result.Authorization = `Bearer ${session.token}`;
  return result;
}

export async function login(username, password) {
  const body = await request('POST', '/api/auth/login', { username, password }, { auth: false });
  if (session.user && session.user.id !== body.user.id) pendingWrites.clear();  // ids are per user
  session.token = body.token;
  session.user = body.user;
  localStorage.setItem(STORAGE.token, body.token);
  localStorage.setItem(STORAGE.user, JSON.stringify(body.user));
  return body.user;
}

export function logout() {
  pendingWrites.clear();
  session.token = null;
  session.user = null;
  localStorage.removeItem(STORAGE.token);
  localStorage.removeItem(STORAGE.user);
}

export async function request(method, path, body, { auth = true } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    cache: 'no-store' };
  if (!auth) delete init.headers.Authorization;
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new NetworkError(error);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && auth) onUnauthorized(error);
    throw error;
  }
  return data;
}

export const get = (path) => request('GET', path);

/** Every page of a list endpoint ({items, total, limit, offset}). */
export async function getAll(path, pageSize = 500) {
  const items = [];
  const sep = path.includes('?') ? '&' : '?';
  for (let offset = 0; ; offset += pageSize) {
    const page = await get(`${path}${sep}limit=${pageSize}&offset=${offset}`);
    items.push(...page.items);
    if (page.items.length < pageSize || items.length >= page.total) return items;
  }
}

// One client-made UUID per intended write: a retry of the same write (same key, same body,
// e.g. after a network error) reuses it, so the server answers instead of doing it twice.
const pendingWrites = new Map();

function writeId(key, payload) {
  const fingerprint = JSON.stringify(payload);
  const pending = pendingWrites.get(key);
  if (pending && pending.fingerprint === fingerprint) return pending.id;
  const id = crypto.randomUUID();
  pendingWrites.set(key, { id, fingerprint });
  return id;
}

async function write(key, path, payload) {
  const body = { ...payload, client_action_id: writeId(key, payload) };
  // On any failure the id stays: a lost answer, a 5xx or a login in between, the server
  // either never saw it or answers the repeat without doing it twice. A changed body gets a new id.
  const result = await request('POST', path, body);
  pendingWrites.delete(key);
  return result;
}

export function act(ticketId, action, fields = {}) {
  return write(`ticket:${ticketId}:${action}`, `/api/tickets/${ticketId}/actions`, { action, ...fields });
}

export function createTicket(payload, formKey) {
  return write(`create:${formKey}`, '/api/tickets', payload);
}
