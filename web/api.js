// SPDX-License-Identifier: MIT
// The HTTP API client: JSON in and out, session cookie plus the CSRF header on writes.

let csrf = null;
let unauthorized = () => {};

// An error answer of the API: status, code, message and the field at fault.
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

// Remembers the session's CSRF token (sent as X-CSRF-Token on POST, PUT, PATCH, DELETE).
export function setCsrf(token) { csrf = token || null; }

// Sets what happens when the session is gone (a 401 on any call but the sign-in).
export function onUnauthorized(f) { unauthorized = f; }

// Calls the API; resolves to the parsed body (null for 204), rejects with ApiError.
// opts.keepalive lets the request outlive the page (used to give leases back on leaving).
export async function api(method, path, body, opts = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(path, {method, headers, credentials: 'same-origin', keepalive: !!opts.keepalive,
                             signal: opts.signal, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'the server cannot be reached: ' + e.message);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(res.status, e.code || 'http_' + res.status, e.message || res.statusText, e.field);
    if (res.status === 401 && !opts.noAuthRedirect) unauthorized(err);
    throw err;
  }
  return data;
}

// Encodes one path segment.
export const seg = (s) => encodeURIComponent(s);
