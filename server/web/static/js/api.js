// The JSON API of the trace server, called with the bearer token of the signed-in user.

const KEY = "serialtrace.session";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

export function session() {
  const text = sessionStorage.getItem(KEY);
  if (text === null) return null;
  try {
    const value = JSON.parse(text);
    if (typeof value.token !== "string" || Date.now() >= value.expiresAt) {
      sessionStorage.removeItem(KEY);
      return null;
    }
    return value;
  } catch {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

// Sign out: the token is revoked on the server (POST /auth/logout), then forgotten here.
export async function signOut() {
  const current = session();
  sessionStorage.removeItem(KEY);
  if (current === null) return;
  try {
    await fetch("/auth/logout", {
      method: "POST",
      headers: { Authorization: `Bearer ${current.token}` },
    });
  } catch {
    // the server is unreachable: the token still ends at its expiry
  }
}

// Forget the session without telling the server (it refused the token already).
function forget() {
  sessionStorage.removeItem(KEY);
}

// What each role may do; the API decides in the end (a 403 is shown as it comes).
const READERS = ["operator", "qa", "admin"];
const PERMISSIONS = {
  read: READERS,
  verify: ["operator", "qa", "admin", "device"],
  recall: ["qa", "admin"],
  recallSet: ["qa", "admin"],
  events: ["qa", "admin"],
  audit: ["qa", "admin"],
  release: ["qa"],
  record: ["operator", "qa"],
  inspect: ["qa"],
  drills: ["qa", "admin"],
  complaints: ["qa", "admin"],
  complain: READERS,
  genealogy: READERS,
  masterData: ["qa"],
  orders: ["qa"],
};

export function can(action) {
  const current = session();
  return current !== null && (PERMISSIONS[action] ?? []).includes(current.role);
}

export async function signIn(username, password) {
  const body = new URLSearchParams({ username, password });
  const response = await fetch("/auth/token", { method: "POST", body });
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, detailOf(data, response));
  const value = {
    token: data.access_token,
    role: data.role,
    username,
    fullName: data.full_name ?? null,
    expiresAt: Date.now() + data.expires_in * 1000,
  };
  sessionStorage.setItem(KEY, JSON.stringify(value));
  return value;
}

let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

async function call(
  path,
  { method = "GET", json, accept = "application/json", headers: extra = {} } = {},
) {
  const current = session();
  const headers = { ...extra, Accept: accept };
  if (current !== null) headers.Authorization = `Bearer ${current.token}`;
  const init = { method, headers };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, `the trace server cannot be reached (${error.message})`);
  }
  if (response.status === 401 && current !== null) {
    forget();
    onUnauthorized();
  }
  return response;
}

export async function api(path, options = {}) {
  const response = await call(path, options);
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, detailOf(data, response));
  return data;
}

// Fetch a file (report, export) with the token, as a Blob.
export async function fetchBlob(path) {
  const response = await call(path, { accept: "*/*" });
  if (!response.ok) {
    throw new ApiError(response.status, detailOf(await readBody(response), response));
  }
  return await response.blob();
}

// Fetch a file with the token and hand it to the browser as a download.
export async function download(path, filename) {
  const url = URL.createObjectURL(await fetchBlob(path));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Which API paths this server has (QA modules may or may not be installed).
let paths = null;
export async function apiPaths() {
  if (paths === null) {
    try {
      const response = await fetch("/openapi.json");
      paths = response.ok ? Object.keys((await response.json()).paths ?? {}) : [];
    } catch {
      paths = [];
    }
  }
  return paths;
}

async function readBody(response) {
  const type = response.headers.get("Content-Type") ?? "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }
  return await response.text();
}

function detailOf(data, response) {
  if (data !== null && typeof data === "object" && "detail" in data) {
    const detail = data.detail;
    return typeof detail === "string" ? detail : JSON.stringify(detail);
  }
  return `${response.status} ${response.statusText}`;
}
