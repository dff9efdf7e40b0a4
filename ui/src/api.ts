// The CloudStack API as a browser client: a login session (sessionkey cookie + parameter), async jobs.

export type Obj = Record<string, any>;

export class ApiError extends Error {
  constructor(public status: number, message: string) { super(message); }
}

const KEY = "devcloud.session";

export const session = {
  get(): Obj | null {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  },
  set(v: Obj | null) {
    if (v) sessionStorage.setItem(KEY, JSON.stringify(v));
    else sessionStorage.removeItem(KEY);
  },
};

let onExpired: () => void = () => {};
export function setOnExpired(fn: () => void) { onExpired = fn; }

export async function call(command: string, params: Obj = {}): Promise<Obj> {
  const body = new URLSearchParams({ command, response: "json" });
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    body.set(k, String(v));
  }
  const s = session.get();
  if (s && command !== "login") body.set("sessionkey", s.sessionkey);
  const r = await fetch("/client/api", {
    method: "POST", body, credentials: "same-origin",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  let data: Obj = {};
  try { data = await r.json(); } catch { /* not JSON */ }
  const inner: Obj = Object.values(data)[0] ?? {};
  if (r.status === 401 && command !== "login") {
    session.set(null);
    onExpired();
    throw new ApiError(401, "session expired; log in again");
  }
  if (!r.ok) throw new ApiError(r.status, inner.errortext || `HTTP ${r.status}`);
  return inner;
}

/** A list command's items (`key` is the list's element name) and count. */
export async function list(command: string, key: string, params: Obj = {}): Promise<{ items: Obj[]; count: number }> {
  const out = await call(command, params);
  return { items: out[key] ?? [], count: out.count ?? (out[key] ?? []).length };
}

export async function listAll(command: string, key: string, params: Obj = {}): Promise<Obj[]> {
  return (await list(command, key, { listall: true, ...params })).items;
}

export type JobListener = (job: Obj) => void;

/** Waits for an async job; calls `progress` on every poll; resolves with the job (status 1) or throws its error. */
export async function waitJob(jobid: string, progress: JobListener = () => {}, timeoutMs = 600000): Promise<Obj> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 300; ; delay = Math.min(delay * 1.5, 2000)) {
    const job = await call("queryAsyncJobResult", { jobid });
    progress(job);
    if (job.jobstatus === 1) return job;
    if (job.jobstatus === 2) throw new ApiError(job.jobresultcode || 530, job.jobresult?.errortext || "job failed");
    if (Date.now() > deadline) throw new ApiError(0, `job ${jobid} still running`);
    await new Promise((res) => setTimeout(res, delay));
  }
}

let apis: Set<string> | null = null;
export async function allowed(): Promise<Set<string>> {
  if (!apis) {
    const out = await call("listApis");
    apis = new Set((out.api ?? []).map((a: Obj) => String(a.name)));
  }
  return apis;
}
export function resetAllowed() { apis = null; }
