// devcloud web UI: a client of the public CloudStack API only (the `login` session), hash-routed pages.
import "./style.css";
import { ApiError, allowed, call, list, listAll, type Obj, resetAllowed, session, setOnExpired, waitJob } from "./api";
import { apiReference } from "./apiref";
import { clear, h, val } from "./dom";

const app = document.getElementById("app")!;
let main: HTMLElement;
let jobsBox: HTMLElement;
let refreshTimer: number | undefined;

setOnExpired(() => { location.hash = "#/login?expired=1"; });

// ------------------------------------------------------------------------------------------------- helpers
function fmtBytes(n: number): string {
  if (!n && n !== 0) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}
function stateCell(s: string) { return h("span", { class: `state-${s}` }, s ?? ""); }
function errBox(e: unknown) { return h("div", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e)); }

/** Runs an async command, showing its job's progress and error text in the jobs panel. With `errInto` (a form's
 *  error box) a refused submission (an error before any job started) is shown there instead. */
async function runJob(label: string, command: string, params: Obj, after?: (job: Obj) => void, errInto?: HTMLElement): Promise<Obj | null> {
  const line = h("div", { class: "job", "data-job": command }, h("b", {}, label), " ", h("span", { class: "st" }, "submitting…"));
  jobsBox.prepend(line);
  const st = line.querySelector(".st") as HTMLElement;
  let started: Obj | undefined;
  try {
    started = await call(command, params);
    if (!started.jobid) { st.textContent = "done"; line.classList.add("done"); after?.(started); return started; }
    const t0 = Date.now();
    const job = await waitJob(started.jobid, (j) => {
      st.textContent = j.jobstatus === 0 ? `in progress (${Math.round((Date.now() - t0) / 1000)} s)` : "";
    });
    st.textContent = "done"; line.classList.add("done");
    setTimeout(() => line.remove(), 8000);
    after?.(job);
    return job;
  } catch (e) {
    if (!started && errInto) { line.remove(); errInto.append(errBox(e)); return null; }
    st.textContent = `failed: ${e instanceof Error ? e.message : e}`; line.classList.add("failed");
    setTimeout(() => line.remove(), 30000);
    return null;
  }
}

type Col = [string, (o: Obj) => any];
type Action = { label: string; show?: (o: Obj) => boolean; run: (o: Obj) => void | Promise<void>; cls?: string };

/** A paged, searchable table of a list command. */
function listView(opts: {
  title?: string; command: string; key: string; cols: Col[]; params?: Obj; actions?: Action[];
  filters?: { name: string; options: string[] }[]; pageSize?: number; search?: boolean; autoRefresh?: number;
  empty?: string; onRow?: (o: Obj) => void;
}): HTMLElement {
  const wrap = h("div", { class: "listview", "data-list": opts.command });
  let page = 1; const pageSize = opts.pageSize ?? 20;
  const kw = h("input", { placeholder: "Search", name: "keyword", type: "search" }) as HTMLInputElement;
  const filterEls = (opts.filters ?? []).map((f) =>
    h("select", { name: f.name }, h("option", { value: "" }, `any ${f.name}`), f.options.map((o) => h("option", { value: o }, o))) as HTMLSelectElement);
  const body = h("div");
  const pager = h("div", { class: "toolbar" });
  async function load() {
    const params: Obj = { listall: true, page, pagesize: pageSize, ...(opts.params ?? {}) };
    if (kw.value) params.keyword = kw.value;
    filterEls.forEach((f) => { if (f.value) params[f.name] = f.value; });
    try {
      const { items, count } = await list(opts.command, opts.key, params);
      const rows = items.map((o) => h("tr", { "data-id": o.id, "data-name": o.name ?? o.displayname ?? o.username ?? o.ipaddress ?? "" },
        opts.cols.map(([, f]) => h("td", {}, f(o))),
        opts.actions ? h("td", {}, opts.actions.filter((a) => !a.show || a.show(o)).map((a) =>
          h("button", { class: a.cls ?? "", "data-action": a.label, onclick: async (ev: Event) => {
            ev.stopPropagation(); await a.run(o); } }, a.label))) : null));
      if (opts.onRow) rows.forEach((r, i) => { r.style.cursor = "pointer"; r.addEventListener("click", () => opts.onRow!(items[i])); });
      clear(body, items.length ? h("table", {}, h("thead", {}, h("tr", {}, opts.cols.map(([n]) => h("th", {}, n)),
        opts.actions ? h("th", {}, "Actions") : null)), h("tbody", {}, rows))
        : h("p", { class: "empty" }, opts.empty ?? "Nothing here yet."));
      const pages = Math.max(1, Math.ceil(count / pageSize));
      clear(pager, h("button", { class: "secondary", disabled: page <= 1, onclick: () => { page--; load(); } }, "‹ Prev"),
        `Page ${page} of ${pages} (${count} total)`,
        h("button", { class: "secondary", disabled: page >= pages, onclick: () => { page++; load(); } }, "Next ›"));
    } catch (e) { clear(body, errBox(e)); }
  }
  kw.addEventListener("input", () => { page = 1; load(); });
  filterEls.forEach((f) => f.addEventListener("change", () => { page = 1; load(); }));
  wrap.append(opts.title ? h("h2", {}, opts.title) : "", h("div", { class: "toolbar" }, opts.search === false ? "" : kw, filterEls,
    h("button", { class: "secondary", onclick: () => load() }, "Refresh")), body, pager);
  (wrap as any).reload = load;
  load();
  if (opts.autoRefresh) {
    const t = window.setInterval(() => { if (!document.body.contains(wrap)) clearInterval(t); else load(); }, opts.autoRefresh);
  }
  return wrap;
}
/** Refreshes every list and every form's picker on the page (after a change). */
function reloadAll() { document.querySelectorAll<HTMLElement>(".listview, select.picker").forEach((l) => (l as any).reload?.()); }

function tabs(defs: [string, () => HTMLElement][]): HTMLElement {
  const box = h("div"); const bar = h("div", { class: "toolbar tabs" });
  const show = (i: number) => {
    bar.querySelectorAll("button").forEach((b, j) => b.classList.toggle("active", i === j));
    clear(box, defs[i][1]());
  };
  defs.forEach(([n], i) => bar.append(h("button", { onclick: () => show(i), "data-tab": n }, n)));
  const out = h("div", {}, bar, box); show(0); return out;
}

// ------------------------------------------------------------------------------------------------- forms
type Picker = HTMLSelectElement & { items: Obj[]; load: (params: Obj) => Promise<void>; chosen: () => Obj | undefined };

/** A select filled from a list command (`params` null: filled later by `load`), refilled by `reloadAll`; `chosen()` is
 *  the selected object. */
function pick(command: string, key: string, params: Obj | null, label: (o: Obj) => string,
  o: { keep?: (x: Obj) => boolean; multiple?: boolean } = {}): Picker {
  const sel = h("select", { class: "picker", multiple: o.multiple }) as Picker;
  let seq = 0, last = params;
  sel.items = [];
  sel.chosen = () => sel.items.find((x) => x.id === sel.value);
  sel.load = async (p) => {  // the latest load wins; what was chosen stays chosen when it is still offered
    last = p;
    const n = ++seq;
    const items = (await listAll(command, key, p).catch(() => [])).filter(o.keep ?? (() => true));
    if (n !== seq) return;
    // read the choice when the answer arrives, not when the call began: the user may have chosen meanwhile
    const was = new Set([...sel.selectedOptions].map((x) => x.value));
    sel.items = items;
    clear(sel, items.map((x) => h("option", { value: x.id }, label(x))));
    for (const opt of sel.options) if (was.has(opt.value)) opt.selected = true;
    sel.dispatchEvent(new Event("change"));
  };
  (sel as any).reload = () => { if (last) sel.load(last); };
  if (params) sel.load(params);
  return sel;
}

type Field = [name: string, label: string, input?: HTMLElement];

/** A collapsible create form: labelled fields (ids `<id>-<name>`; a plain text input when none is given), a submit
 *  button and an error box for a refused submission. `submit` gets the values (a multi-select's joined by ",") and
 *  the error box; a non-null result resets the form. */
function formView(id: string, title: string, fields: Field[], submit: (v: Obj, err: HTMLElement) => Promise<unknown>): HTMLElement {
  const err = h("div");
  const btn = h("button", { type: "submit" }, title) as HTMLButtonElement;
  const form = h("form", { class: "wizard", id }, fields.map(([name, label, input]) => {
    const el = input ?? h("input"); el.setAttribute("name", name); el.id = `${id}-${name}`;
    return [h("label", { for: el.id }, label), el];
  }), h("p", {}, btn), err) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault(); clear(err); btn.disabled = true;
    const v: Obj = {};
    for (const [name] of fields) {
      const el = form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
      v[name] = el instanceof HTMLSelectElement && el.multiple ? [...el.selectedOptions].map((x) => x.value).join(",") : el.value.trim();
    }
    try { if ((await submit(v, err)) != null) form.reset(); } catch (e) { err.append(errBox(e)); } finally { btn.disabled = false; }
  });
  return h("details", { class: "form", "data-form": id }, h("summary", {}, title), form);
}
const withForms = (forms: (HTMLElement | null)[], list: HTMLElement) => h("div", {}, h("div", { class: "forms" }, forms), list);
const inp = (attrs: Obj = {}) => { const el = h("input", attrs) as HTMLInputElement; el.defaultValue = el.value; return el; };  // reset() keeps a given value
const choice = (values: string[]) => h("select", {}, values.map((x) => h("option", { value: x }, x)));
/** Calls a synchronous command from a form and refreshes the lists; its error reaches the form's error box. */
async function submitSync(command: string, params: Obj): Promise<Obj> { const out = await call(command, params); reloadAll(); return out; }

// ------------------------------------------------------------------------------------------------- login
function loginPage(params: URLSearchParams) {
  clear(app);
  const err = h("div");
  if (params.get("expired")) err.append(h("div", { class: "error" }, "Your session has expired; please log in again."));
  const form = h("form", { class: "login", id: "login" },
    h("h1", {}, "devcloud"), err,
    h("label", { for: "username" }, "Username"), h("input", { id: "username", name: "username", autocomplete: "username", required: true }),
    h("label", { for: "password" }, "Password"), h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("label", { for: "domain" }, "Domain"), h("input", { id: "domain", name: "domain", placeholder: "/ (ROOT)" }),
    h("p", {}, h("button", { type: "submit" }, "Log in")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(err);
    try {
      const out = await call("login", { username: val(form, "username"), password: (form.querySelector("#password") as HTMLInputElement).value,
        domain: val(form, "domain") || "/" });
      session.set(out);
      resetAllowed();
      location.hash = "#/dashboard";
    } catch (e) { err.append(errBox(e instanceof ApiError && e.status === 401 ? "Invalid username, password or domain." : e)); }
  });
  app.append(form);
}

async function logout() {
  try { await call("logout"); } catch { /* already gone */ }
  session.set(null); resetAllowed();
  location.hash = "#/login";
}

// ------------------------------------------------------------------------------------------------- layout
const PAGES: [string, string, string | null][] = [  // route, label, the command that must be allowed
  ["dashboard", "Dashboard", null], ["instances", "Instances", "listVirtualMachines"],
  ["infrastructure", "Infrastructure", "listHosts"], ["storage", "Volumes & snapshots", "listVolumes"],
  ["images", "Templates & ISOs", "listTemplates"], ["networks", "Networks", "listNetworks"],
  ["accounts", "Accounts", "createAccount"], ["events", "Events", "listEvents"], ["api", "API reference", null],
];

async function shell(route: string): Promise<boolean> {
  const s = session.get()!;
  const apis = await allowed();
  const visible = PAGES.filter(([, , cmd]) => !cmd || apis.has(cmd));
  const nav = h("nav", {}, h("div", { class: "brand" }, "devcloud"),
    visible.map(([r, label]) => h("a", { href: `#/${r}`, class: route === r ? "active" : "", "data-page": r }, label)));
  main = h("main");
  jobsBox = h("div", { id: "jobs" });
  clear(app, nav, h("div", { style: "flex:1;min-width:0" },
    h("header", { class: "top", style: "padding:8px 24px 0" }, h("span", {}, ""),
      h("span", {}, `${s.username} (${s.account}, ${s.domainid ? "" : ""}${["user", "root admin", "domain admin"][Number(s.type)] ?? "user"}) `,
        h("button", { class: "secondary", id: "logout", onclick: logout }, "Log out"))), main), jobsBox);
  const page = PAGES.find(([r]) => r === route);
  if (page && page[2] && !apis.has(page[2])) {
    main.append(h("h1", {}, "Not available"), h("p", { class: "error", id: "forbidden" }, "Your role does not allow this page."));
    return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------------- dashboard
async function dashboard() {
  const apis = await allowed();
  main.append(h("h1", {}, "Dashboard"));
  const cards = h("div", { class: "cards", id: "summary" }); main.append(cards);
  const card = (title: string, big: string | number, extra?: Node) => cards.append(h("div", { class: "card", "data-card": title }, h("div", {}, title), h("div", { class: "big" }, big), extra ?? ""));
  try {
    const vms = await list("listVirtualMachines", "virtualmachine", { listall: true, state: "Running", pagesize: 1, page: 1 });
    const all = await list("listVirtualMachines", "virtualmachine", { listall: true, pagesize: 1, page: 1 });
    card("Running instances", vms.count, h("div", {}, `of ${all.count}`));
    if (apis.has("listHosts")) {
      const hosts = await listAll("listHosts", "host", { type: "Routing" });
      const up = hosts.filter((x) => x.state === "Up").length;
      card("Hosts up", up, h("div", {}, `${hosts.length - up} down or other`));
    }
    if (apis.has("listCapacity")) {
      const caps = (await call("listCapacity", {})).capacity ?? [];
      const names: Record<number, string> = { 0: "Memory", 1: "CPU", 2: "Primary storage", 3: "Primary allocated", 4: "Public IPs", 5: "Private IPs", 6: "Secondary storage", 8: "Direct IPs", 19: "GPU", 90: "CPU cores" };
      for (const c of caps) {
        const pct = Number(c.percentused ?? 0);
        const total = [0, 2, 3, 6].includes(c.type) ? fmtBytes(c.capacitytotal) : c.capacitytotal;
        const used = [0, 2, 3, 6].includes(c.type) ? fmtBytes(c.capacityused) : c.capacityused;
        card(`${names[c.type] ?? c.name ?? c.type}${c.zonename ? ` · ${c.zonename}` : ""}`, `${pct}%`,
          h("div", {}, h("div", {}, `${used} / ${total}`), h("div", { class: "bar" }, h("div", { style: `width:${Math.min(100, pct)}%` }))));
      }
    }
  } catch (e) { main.append(errBox(e)); }
  main.append(listView({ title: "Recent jobs (in progress first)", command: "listAsyncJobs", key: "asyncjobs", search: false, pageSize: 10, autoRefresh: 4000,
    params: {}, empty: "No jobs.", cols: [["Command", (j) => j.cmd?.split(".").pop()?.replace(/Cmd$/, "")], ["Status", (j) => ["in progress", "succeeded", "failed"][j.jobstatus]],
      ["Resource", (j) => j.jobinstancetype ?? ""], ["Created", (j) => j.created]] }));
  main.append(listView({ title: "Recent events", command: "listEvents", key: "event", search: false, pageSize: 10,
    cols: [["Type", (e) => e.type], ["Level", (e) => e.level], ["Description", (e) => e.description], ["Account", (e) => e.account], ["Created", (e) => e.created]] }));
}

// ------------------------------------------------------------------------------------------------- instances
const vmActions: Action[] = [
  { label: "Start", show: (v) => v.state === "Stopped", run: (v) => { runJob(`Start ${v.name}`, "startVirtualMachine", { id: v.id }, reloadAll); } },
  { label: "Stop", show: (v) => v.state === "Running", run: (v) => { runJob(`Stop ${v.name}`, "stopVirtualMachine", { id: v.id }, reloadAll); } },
  { label: "Reboot", show: (v) => v.state === "Running", run: (v) => { runJob(`Reboot ${v.name}`, "rebootVirtualMachine", { id: v.id }, reloadAll); } },
  { label: "Destroy", cls: "danger", show: (v) => ["Running", "Stopped", "Error"].includes(v.state), run: (v) => {
    if (confirm(`Destroy ${v.name}?`)) runJob(`Destroy ${v.name}`, "destroyVirtualMachine", { id: v.id }, reloadAll); } },
  { label: "Recover", show: (v) => v.state === "Destroyed", run: async (v) => {
    try { await call("recoverVirtualMachine", { id: v.id }); reloadAll(); } catch (e) { alert((e as Error).message); } } },
];

function instances() {
  main.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, "Instances"),
    h("button", { id: "deploy", onclick: () => { location.hash = "#/deploy"; } }, "Deploy instance")));
  main.append(listView({ command: "listVirtualMachines", key: "virtualmachine", autoRefresh: 5000,
    filters: [{ name: "state", options: ["Running", "Stopped", "Starting", "Stopping", "Destroyed", "Error"] }],
    cols: [["Name", (v) => h("a", { href: `#/instance/${v.id}` }, v.displayname || v.name)], ["State", (v) => stateCell(v.state)],
      ["IP", (v) => v.nic?.[0]?.ipaddress ?? ""], ["Zone", (v) => v.zonename], ["Template", (v) => v.templatename], ["Offering", (v) => v.serviceofferingname], ["Account", (v) => v.account]],
    actions: vmActions }));
}

async function deployWizard() {
  main.append(h("h1", {}, "Deploy instance"));
  const err = h("div");
  const sel = (name: string, items: Obj[], label: (o: Obj) => string, optional = false) =>
    h("select", { name, id: `f-${name}` }, optional ? h("option", { value: "" }, "(none)") : null, items.map((o) => h("option", { value: o.id ?? o.name }, label(o))));
  try {
    const zones = await listAll("listZones", "zone", { available: true });
    const offerings = await listAll("listServiceOfferings", "serviceoffering");
    const keys = await listAll("listSSHKeyPairs", "sshkeypair").catch(() => []);
    const form = h("form", { class: "wizard", id: "wizard" },
      h("label", {}, "Zone"), sel("zoneid", zones, (z) => `${z.name} (${z.networktype})`),
      h("label", {}, "Template"), h("select", { name: "templateid", id: "f-templateid" }),
      h("label", {}, "Compute offering"), sel("serviceofferingid", offerings, (o) => `${o.name} — ${o.cpunumber} vCPU, ${o.memory} MiB`),
      h("label", {}, "Network"), h("select", { name: "networkids", id: "f-networkids" }),
      h("label", {}, "SSH key pair"), sel("keypair", keys.map((k) => ({ ...k, id: k.name })), (k) => k.name, true),
      h("label", {}, "Name"), h("input", { name: "name", id: "f-name", placeholder: "optional" }),
      h("label", {}, "User data"), h("textarea", { name: "userdata", id: "f-userdata", rows: 4, placeholder: "#cloud-config …" }),
      h("p", {}, h("button", { type: "submit", id: "launch" }, "Launch")), err);
    const zoneSel = form.querySelector('[name="zoneid"]') as HTMLSelectElement;
    const fill = async () => {
      const z = zoneSel.value;
      const tpls = [...await listAll("listTemplates", "template", { templatefilter: "executable", zoneid: z })].filter((t) => t.isready !== false);
      clear(form.querySelector('[name="templateid"]') as HTMLElement, tpls.map((t) => h("option", { value: t.id }, t.name)));
      const nets = await listAll("listNetworks", "network", { zoneid: z }).catch(() => []);
      clear(form.querySelector('[name="networkids"]') as HTMLElement, h("option", { value: "" }, "(zone default)"), nets.map((n) => h("option", { value: n.id }, `${n.name} ${n.cidr ?? ""}`)));
    };
    zoneSel.addEventListener("change", fill);
    await fill();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault(); clear(err);
      const params: Obj = {};
      for (const n of ["zoneid", "templateid", "serviceofferingid", "networkids", "keypair", "name"]) params[n] = val(form, n);
      const ud = (form.querySelector('[name="userdata"]') as HTMLTextAreaElement).value;
      if (ud) params.userdata = btoa(unescape(encodeURIComponent(ud)));
      const btn = form.querySelector("#launch") as HTMLButtonElement; btn.disabled = true;
      const job = await runJob(`Deploy ${params.name || "instance"}`, "deployVirtualMachine", params);
      btn.disabled = false;
      if (job) location.hash = `#/instance/${job.jobresult?.virtualmachine?.id ?? ""}`;
      else err.append(h("div", { class: "error" }, "Deploy failed: see the job panel."));
    });
    main.append(form);
  } catch (e) { main.append(errBox(e)); }
}

async function instanceDetail(id: string) {
  const box = h("div", { id: "instance" }); main.append(box);
  const render = async () => {
    let v: Obj;
    try {
      const { items } = await list("listVirtualMachines", "virtualmachine", { id, listall: true });
      if (!items.length) { clear(box, errBox("No such instance (or not yours).")); return; }
      v = items[0];
    } catch (e) { clear(box, errBox(e)); return; }
    const actions = vmActions.filter((a) => !a.show || a.show(v)).map((a) =>
      h("button", { class: a.cls ?? "", "data-action": a.label, onclick: async () => { await a.run(v); setTimeout(render, 500); } }, a.label));
    const vols = await listAll("listVolumes", "volume", { virtualmachineid: id }).catch(() => []);
    clear(box, h("h1", {}, v.displayname || v.name, " ", stateCell(v.state)),
      h("div", { class: "toolbar" }, actions,
        v.state === "Running" ? h("button", { id: "console", onclick: () => { location.hash = `#/console/${v.id}`; } }, "Console") : null,
        h("button", { class: "secondary", id: "serial", onclick: () => { location.hash = `#/console/${v.id}?serial=1`; } }, "Serial log")),
      h("table", { class: "kv" }, [["ID", v.id], ["Instance name", v.instancename], ["Zone", v.zonename], ["Host", v.hostname],
        ["Template", v.templatename], ["Offering", `${v.serviceofferingname} (${v.cpunumber} vCPU, ${v.memory} MiB)`],
        ["Key pair", v.keypair], ["Account", `${v.account} / ${v.domain}`], ["Created", v.created]].map(([k, x]) => h("tr", {}, h("td", {}, k), h("td", {}, x ?? "")))),
      h("h2", {}, "NICs"), h("table", {}, h("tr", {}, ["Network", "IP", "MAC", "Gateway", "Default"].map((x) => h("th", {}, x))),
        (v.nic ?? []).map((n: Obj) => h("tr", {}, h("td", {}, n.networkname), h("td", {}, n.ipaddress), h("td", {}, n.macaddress), h("td", {}, n.gateway), h("td", {}, n.isdefault ? "yes" : "")))),
      h("h2", {}, "Volumes"), h("table", {}, h("tr", {}, ["Name", "Type", "Size", "State", ""].map((x) => h("th", {}, x))),
        vols.map((o) => h("tr", {}, h("td", {}, o.name), h("td", {}, o.type), h("td", {}, fmtBytes(o.size)), h("td", {}, o.state),
          h("td", {}, h("button", { class: "secondary", onclick: () => runJob(`Snapshot ${o.name}`, "createSnapshot", { volumeid: o.id }) }, "Snapshot"))))));
  };
  await render();
  const t = window.setInterval(() => { if (!document.body.contains(box)) clearInterval(t); else render(); }, 5000);
}

async function consolePage(id: string, params: URLSearchParams) {
  const status = h("div", { id: "console-status" }, "connecting…");
  const screen = h("div", { id: "screen" });
  const serial = h("pre", { class: "serial", id: "serial-log" });
  main.append(h("div", { class: "toolbar" }, h("h1", { style: "margin:0" }, "Console"), h("a", { href: `#/instance/${id}` }, "back to the instance"),
    h("button", { class: "secondary", id: "show-serial", onclick: loadSerial }, "Serial log")), status, screen, serial);
  async function loadSerial() {
    try { serial.textContent = (await call("getVirtualMachineConsoleLog", { virtualmachineid: id })).consolelog?.log || "(the serial log is empty)"; } catch (e) { serial.textContent = String((e as Error).message); }
  }
  if (params.get("serial")) { status.textContent = ""; screen.remove(); await loadSerial(); return; }
  try {
    const ep = await call("createConsoleEndpoint", { virtualmachineid: id });
    const ws = ep.consoleendpoint.websocket;
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const url = `${proto}://${ws.host || location.host}${ws.path}?token=${encodeURIComponent(ws.token)}`;
    const { default: RFB } = await import("@novnc/novnc");
    const rfb = new RFB(screen, url, { wsProtocols: ["binary"] });
    rfb.scaleViewport = true;
    (window as any).__rfb = rfb;
    rfb.addEventListener("connect", () => { status.textContent = "connected"; status.dataset.state = "connected"; rfb.focus(); });
    rfb.addEventListener("disconnect", (e: any) => { status.textContent = e.detail?.clean ? "disconnected" : "connection failed or closed"; status.dataset.state = "disconnected"; });
    rfb.addEventListener("desktopname", (e: any) => { document.title = `Console · ${e.detail.name}`; });
  } catch (e) { clear(status, errBox(e)); loadSerial(); }
}

// ------------------------------------------------------------------------------------------------- infrastructure
function infrastructure() {
  main.append(h("h1", {}, "Infrastructure"));
  const alloc = (cmd: string, label: string) => [
    { label: "Disable", show: (o: Obj) => o.allocationstate === "Enabled" || o.resourcestate === "Enabled", run: async (o: Obj) => { await act(cmd, { id: o.id, allocationstate: "Disabled" }, `Disable ${label}`); } },
    { label: "Enable", show: (o: Obj) => o.allocationstate === "Disabled" || o.resourcestate === "Disabled", run: async (o: Obj) => { await act(cmd, { id: o.id, allocationstate: "Enable" === "Enable" ? "Enabled" : "" }, `Enable ${label}`); } },
  ] as Action[];
  main.append(tabs([
    ["Zones", () => listView({ command: "listZones", key: "zone", cols: [["Name", (z) => z.name], ["Network", (z) => z.networktype], ["State", (z) => stateCell(z.allocationstate)]], actions: alloc("updateZone", "zone") })],
    ["Pods", () => listView({ command: "listPods", key: "pod", cols: [["Name", (p) => p.name], ["Zone", (p) => p.zonename], ["Gateway", (p) => p.gateway], ["State", (p) => stateCell(p.allocationstate)]], actions: alloc("updatePod", "pod") })],
    ["Clusters", () => listView({ command: "listClusters", key: "cluster", cols: [["Name", (c) => c.name], ["Pod", (c) => c.podname], ["Hypervisor", (c) => c.hypervisortype], ["State", (c) => stateCell(c.allocationstate)]], actions: alloc("updateCluster", "cluster") })],
    ["Hosts", () => listView({ command: "listHosts", key: "host", params: { type: "Routing" }, autoRefresh: 5000,
      cols: [["Name", (x) => x.name], ["State", (x) => stateCell(x.state)], ["Resource", (x) => x.resourcestate], ["Cluster", (x) => x.clustername], ["Hypervisor", (x) => x.hypervisor], ["CPU", (x) => `${x.cpunumber ?? ""}`], ["Memory", (x) => fmtBytes(x.memorytotal)]],
      actions: [
        { label: "Maintenance", show: (x) => x.resourcestate === "Enabled", run: (x) => { runJob(`Maintenance ${x.name}`, "prepareHostForMaintenance", { id: x.id }, reloadAll); } },
        { label: "Cancel maintenance", show: (x) => ["Maintenance", "PrepareForMaintenance", "ErrorInMaintenance"].includes(x.resourcestate), run: (x) => { runJob(`Cancel maintenance ${x.name}`, "cancelHostMaintenance", { id: x.id }, reloadAll); } },
        { label: "Disable", show: (x) => x.resourcestate === "Enabled", run: async (x) => { await act("updateHost", { id: x.id, allocationstate: "Disable" }, "Disable host"); } },
        { label: "Enable", show: (x) => x.resourcestate === "Disabled", run: async (x) => { await act("updateHost", { id: x.id, allocationstate: "Enable" }, "Enable host"); } },
      ] })],
    ["Primary storage", () => listView({ command: "listStoragePools", key: "storagepool", cols: [["Name", (p) => p.name], ["State", (p) => stateCell(p.state)], ["Scope", (p) => p.scope], ["Type", (p) => p.type], ["Used", (p) => `${fmtBytes(p.disksizeused)} / ${fmtBytes(p.disksizetotal)}`]],
      actions: [
        { label: "Maintenance", show: (p) => p.state === "Up", run: (p) => { runJob(`Maintenance ${p.name}`, "enableStorageMaintenance", { id: p.id }, reloadAll); } },
        { label: "Cancel maintenance", show: (p) => p.state === "Maintenance", run: (p) => { runJob(`Cancel maintenance ${p.name}`, "cancelStorageMaintenance", { id: p.id }, reloadAll); } }] })],
    ["Secondary storage", () => listView({ command: "listImageStores", key: "imagestore", cols: [["Name", (s) => s.name], ["Zone", (s) => s.zonename], ["Protocol", (s) => s.protocol], ["URL", (s) => s.url]] })],
  ]));
}

async function act(command: string, params: Obj, label: string) {
  try { await call(command, params); reloadAll(); } catch (e) { alert(`${label}: ${(e as Error).message}`); }
}

// ------------------------------------------------------------------------------------------------- storage, images
function storage() {
  main.append(h("h1", {}, "Volumes & snapshots"));
  main.append(tabs([
    ["Volumes", () => listView({ command: "listVolumes", key: "volume", cols: [["Name", (v) => v.name], ["Type", (v) => v.type], ["State", (v) => stateCell(v.state)], ["Size", (v) => fmtBytes(v.size)], ["Instance", (v) => v.vmname ?? ""], ["Account", (v) => v.account]],
      actions: [{ label: "Snapshot", show: (v) => v.state === "Ready", run: (v) => { runJob(`Snapshot ${v.name}`, "createSnapshot", { volumeid: v.id }, reloadAll); } },
        { label: "Delete", cls: "danger", show: (v) => v.type === "DATADISK" && !v.virtualmachineid, run: async (v) => { await act("deleteVolume", { id: v.id }, "Delete volume"); } }] })],
    ["Snapshots", () => listView({ command: "listSnapshots", key: "snapshot", cols: [["Name", (s) => s.name], ["Volume", (s) => s.volumename], ["State", (s) => stateCell(s.state)], ["Created", (s) => s.created]],
      actions: [{ label: "Delete", cls: "danger", run: (s) => { runJob(`Delete snapshot ${s.name}`, "deleteSnapshot", { id: s.id }, reloadAll); } }] })],
  ]));
}

async function images() {
  main.append(h("h1", {}, "Templates & ISOs"));
  const zones = await listAll("listZones", "zone").catch(() => []);
  const ostypes = await listAll("listOsTypes", "ostype").catch(() => []);
  const err = h("div");
  const form = h("form", { class: "wizard", id: "register" }, h("h2", { style: "margin-top:0" }, "Register from URL"),
    h("label", {}, "Kind"), h("select", { name: "kind" }, h("option", { value: "template" }, "Template"), h("option", { value: "iso" }, "ISO")),
    h("label", {}, "Name"), h("input", { name: "name", required: true }),
    h("label", {}, "URL"), h("input", { name: "url", required: true, placeholder: "http://…/image.qcow2" }),
    h("label", {}, "Zone"), h("select", { name: "zoneid" }, zones.map((z) => h("option", { value: z.id }, z.name))),
    h("label", {}, "Format (templates)"), h("select", { name: "format" }, ["QCOW2", "RAW", "VHD", "OVA"].map((f) => h("option", { value: f }, f))),
    h("label", {}, "Hypervisor (templates)"), h("select", { name: "hypervisor" }, ["KVM", "Simulator", "XenServer"].map((f) => h("option", { value: f }, f))),
    h("label", {}, "OS type"), h("select", { name: "ostypeid" }, ostypes.map((o) => h("option", { value: o.id }, o.description))),
    h("p", {}, h("button", { type: "submit" }, "Register")), err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault(); clear(err);
    const iso = val(form, "kind") === "iso";
    const p: Obj = { name: val(form, "name"), displaytext: val(form, "name"), url: val(form, "url"), zoneid: val(form, "zoneid"), ostypeid: val(form, "ostypeid") };
    if (!iso) { p.format = val(form, "format"); p.hypervisor = val(form, "hypervisor"); }
    try { await call(iso ? "registerIso" : "registerTemplate", p); reloadAll(); (form as HTMLFormElement).reset(); } catch (e) { err.append(errBox(e)); }
  });
  const progress = (t: Obj) => t.isready ? "Ready" : (t.status ?? "");
  main.append(tabs([
    ["Templates", () => listView({ command: "listTemplates", key: "template", params: { templatefilter: "all" }, autoRefresh: 3000,
      cols: [["Name", (t) => t.name], ["Zone", (t) => t.zonename], ["Format", (t) => t.format], ["Hypervisor", (t) => t.hypervisor], ["Status", progress], ["Size", (t) => fmtBytes(t.size)], ["Account", (t) => t.account]],
      actions: [{ label: "Delete", cls: "danger", run: (t) => { runJob(`Delete template ${t.name}`, "deleteTemplate", { id: t.id, zoneid: t.zoneid }, reloadAll); } }] })],
    ["ISOs", () => listView({ command: "listIsos", key: "iso", params: { isofilter: "all" }, autoRefresh: 3000,
      cols: [["Name", (t) => t.name], ["Zone", (t) => t.zonename], ["Status", progress], ["Size", (t) => fmtBytes(t.size)], ["Account", (t) => t.account]],
      actions: [{ label: "Delete", cls: "danger", run: (t) => { runJob(`Delete ISO ${t.name}`, "deleteIso", { id: t.id }, reloadAll); } }] })],
  ]), form);
}

// ------------------------------------------------------------------------------------------------- networks
const ipLabel = (i: Obj) => `${i.ipaddress}${i.associatednetworkname ? ` (${i.associatednetworkname})` : ""}${i.issourcenat ? " source NAT" : ""}`;
const num = () => inp({ type: "number" });  // no min/max: the server's range check and its error text apply
const ipPick = (keep?: (i: Obj) => boolean) => pick("listPublicIpAddresses", "publicipaddress", { allocatedonly: true }, ipLabel, { keep });
/** A public IP picker and an instance picker showing the instances on that IP's network. */
function ipAndVm(keep?: (i: Obj) => boolean, multiple = false): [Picker, Picker] {
  const ip = ipPick(keep);
  const vm = pick("listVirtualMachines", "virtualmachine", null, (v) => `${v.displayname || v.name} ${v.nic?.[0]?.ipaddress ?? ""}`, { multiple, keep: (v) => v.state !== "Destroyed" });
  ip.addEventListener("change", () => { const n = ip.chosen()?.associatednetworkid; if (n) vm.load({ networkid: n }); else clear(vm); });
  return [ip, vm];
}

async function networks() {
  const apis = await allowed();
  const can = (...cmds: string[]) => cmds.every((c) => apis.has(c));
  main.append(h("h1", {}, "Networks"));
  const guestNetworkForm = () => {
    const zone = pick("listZones", "zone", { available: true }, (z) => z.name);
    const offering = pick("listNetworkOfferings", "networkoffering", null, (o) => o.displaytext || o.name);
    zone.addEventListener("change", () => offering.load({ guestiptype: "Isolated", forvpc: false, state: "Enabled", zoneid: zone.value }));
    return formView("network-form", "Create isolated network", [["name", "Name"], ["displaytext", "Description"], ["zoneid", "Zone", zone], ["networkofferingid", "Network offering", offering]],
      (v) => submitSync("createNetwork", v));
  };
  const fwForm = () => formView("fw-form", "Add firewall rule", [["ipaddressid", "Public IP", ipPick()], ["protocol", "Protocol", choice(["tcp", "udp", "icmp", "all"])],
    ["startport", "Start port", num()], ["endport", "End port", num()], ["cidrlist", "Source CIDRs", inp({ value: "0.0.0.0/0" })]],
  (v, err) => runJob(`Firewall ${v.protocol} ${v.startport}-${v.endport}`, "createFirewallRule", v, reloadAll, err));
  const pfForm = () => {
    const [ip, vm] = ipAndVm((i) => !i.isstaticnat);
    return formView("pf-form", "Add port forwarding rule", [["ipaddressid", "Public IP", ip], ["protocol", "Protocol", choice(["tcp", "udp"])],
      ["publicport", "Public port", num()], ["privateport", "Private port", num()], ["virtualmachineid", "Instance", vm]],
    (v, err) => runJob(`Port forwarding ${v.publicport} → ${v.privateport}`, "createPortForwardingRule", v, reloadAll, err));
  };
  const staticNatForm = () => {
    const [ip, vm] = ipAndVm((i) => !i.issourcenat && !i.isstaticnat);
    return formView("nat-form", "Enable static NAT", [["ipaddressid", "Public IP", ip], ["virtualmachineid", "Instance", vm]], (v) => submitSync("enableStaticNat", v));
  };
  const lbForm = () => {
    const [ip, vm] = ipAndVm((i) => !i.isstaticnat, true);
    return formView("lb-form", "Add load balancer", [["publicipid", "Public IP", ip], ["name", "Name"], ["algorithm", "Algorithm", choice(["roundrobin", "leastconn", "source"])],
      ["publicport", "Public port", num()], ["privateport", "Private port", num()], ["virtualmachineids", "Instances (assigned after creation)", vm]],
    async ({ virtualmachineids, ...v }, err) => {
      const job = await runJob(`Load balancer ${v.name}`, "createLoadBalancerRule", v, reloadAll, err);
      const id = job?.jobresult?.loadbalancer?.id;
      if (id && virtualmachineids) await runJob(`Assign instances to ${v.name}`, "assignToLoadBalancerRule", { id, virtualmachineids }, reloadAll);
      return job;
    });
  };
  const sgForms = () => {
    const ingress = can("authorizeSecurityGroupIngress");
    const group = pick("listSecurityGroups", "securitygroup", ingress ? {} : null, (g) => `${g.name} (${g.account})`);
    return [
      can("createSecurityGroup") ? formView("sg-form", "Create security group", [["name", "Name"], ["description", "Description"]],
        (v) => submitSync("createSecurityGroup", v)) : null,
      ingress ? formView("ingress-form", "Authorize ingress", [["securitygroupid", "Security group", group], ["protocol", "Protocol", choice(["tcp", "udp", "icmp", "all"])],
        ["startport", "Start port", num()], ["endport", "End port", num()], ["cidrlist", "Source CIDRs", inp({ value: "0.0.0.0/0" })]],
      (v, err) => runJob(`Ingress ${v.protocol} ${v.startport}-${v.endport}`, "authorizeSecurityGroupIngress", v, reloadAll, err)) : null];
  };
  main.append(tabs([
    ["Guest networks", () => withForms([can("createNetwork") ? guestNetworkForm() : null], listView({ command: "listNetworks", key: "network", cols: [["Name", (n) => n.name], ["Type", (n) => n.type], ["State", (n) => stateCell(n.state)], ["CIDR", (n) => n.cidr], ["Zone", (n) => n.zonename], ["Account", (n) => n.account]],
      actions: [{ label: "Delete", cls: "danger", run: (n) => { runJob(`Delete network ${n.name}`, "deleteNetwork", { id: n.id }, reloadAll); } }] }))],
    ["Public IPs", () => withForms([can("associateIpAddress") ? formView("ip-form", "Acquire public IP", [["networkid", "Network", pick("listNetworks", "network", { type: "Isolated" }, (n) => `${n.name} ${n.cidr ?? ""}`)]],
      (v, err) => runJob("Acquire public IP", "associateIpAddress", v, reloadAll, err)) : null, can("enableStaticNat") ? staticNatForm() : null],
    listView({ command: "listPublicIpAddresses", key: "publicipaddress", cols: [["IP", (i) => i.ipaddress], ["State", (i) => stateCell(i.state)], ["Source NAT", (i) => i.issourcenat ? "yes" : ""], ["Static NAT", (i) => i.isstaticnat ? i.virtualmachinename : ""], ["Network", (i) => i.associatednetworkname]],
      actions: [{ label: "Disable static NAT", show: (i) => i.isstaticnat, run: (i) => { runJob(`Disable static NAT on ${i.ipaddress}`, "disableStaticNat", { ipaddressid: i.id }, reloadAll); } },
        { label: "Release", cls: "danger", show: (i) => !i.issourcenat, run: (i) => { runJob(`Release ${i.ipaddress}`, "disassociateIpAddress", { id: i.id }, reloadAll); } }] }))],
    ["Firewall", () => withForms([can("createFirewallRule") ? fwForm() : null], listView({ command: "listFirewallRules", key: "firewallrule", cols: [["IP", (r) => r.ipaddress], ["Protocol", (r) => r.protocol], ["Ports", (r) => `${r.startport ?? ""}-${r.endport ?? ""}`], ["CIDRs", (r) => r.cidrlist], ["State", (r) => r.state]],
      actions: [{ label: "Delete", cls: "danger", run: (r) => { runJob("Delete firewall rule", "deleteFirewallRule", { id: r.id }, reloadAll); } }] }))],
    ["Port forwarding", () => withForms([can("createPortForwardingRule") ? pfForm() : null], listView({ command: "listPortForwardingRules", key: "portforwardingrule", cols: [["IP", (r) => r.ipaddress], ["Protocol", (r) => r.protocol], ["Public", (r) => `${r.publicport}-${r.publicendport}`], ["Private", (r) => `${r.privateport}-${r.privateendport}`], ["Instance", (r) => r.virtualmachinename]],
      actions: [{ label: "Delete", cls: "danger", run: (r) => { runJob("Delete port forwarding rule", "deletePortForwardingRule", { id: r.id }, reloadAll); } }] }))],
    ["Load balancers", () => withForms([can("createLoadBalancerRule", "assignToLoadBalancerRule") ? lbForm() : null], listView({ command: "listLoadBalancerRules", key: "loadbalancerrule", cols: [["Name", (r) => r.name], ["IP", (r) => r.publicip], ["Ports", (r) => `${r.publicport} → ${r.privateport}`], ["Algorithm", (r) => r.algorithm], ["State", (r) => r.state]],
      actions: [{ label: "Delete", cls: "danger", run: (r) => { runJob(`Delete LB ${r.name}`, "deleteLoadBalancerRule", { id: r.id }, reloadAll); } }] }))],
    ["Security groups", () => withForms(sgForms(), listView({ command: "listSecurityGroups", key: "securitygroup", cols: [["Name", (g) => g.name], ["Description", (g) => g.description], ["Ingress rules", (g) => (g.ingressrule ?? []).map((r: Obj) => `${r.protocol} ${r.startport ?? ""}-${r.endport ?? ""} ${r.cidr ?? r.securitygroupname ?? ""}`).join(", ")], ["Account", (g) => g.account]] }))],
  ]));
}

// ------------------------------------------------------------------------------------------------- accounts, events
async function accounts() {
  const apis = await allowed();
  main.append(h("h1", {}, "Accounts"));
  const keysOut = h("pre", { id: "userkeys" });
  const person = (): Field[] => [["username", "Username"], ["password", "Password", inp({ type: "password", autocomplete: "new-password" })],
    ["email", "Email", inp({ type: "email" })], ["firstname", "First name"], ["lastname", "Last name"]];
  const accountForm = () => formView("account-form", "Create account", [...person(), ["account", "Account name", inp({ placeholder: "the username" })],
    ["roleid", "Role", pick("listRoles", "role", {}, (r) => `${r.name} (${r.type})`)], ["domainid", "Domain", pick("listDomains", "domain", {}, (d) => d.path ?? d.name)]],
  (v) => submitSync("createAccount", v));
  const userForm = () => {
    const acct = pick("listAccounts", "account", {}, (a) => `${a.name} (${a.domainpath ?? a.domain})`);
    return formView("user-form", "Add user to account", [["accountid", "Account", acct], ...person()],
      ({ accountid, ...v }) => submitSync("createUser", { ...v, account: acct.chosen()?.name, domainid: acct.chosen()?.domainid }));
  };
  main.append(tabs([
    ["Accounts", () => withForms([apis.has("createAccount") ? accountForm() : null],
      listView({ command: "listAccounts", key: "account", cols: [["Name", (a) => a.name], ["Role", (a) => a.rolename ?? a.roletype], ["Domain", (a) => a.domain], ["State", (a) => stateCell(a.state)], ["VMs", (a) => a.vmtotal ?? ""]],
        actions: [{ label: "Disable", show: (a) => a.state === "enabled", run: (a) => { runJob(`Disable ${a.name}`, "disableAccount", { id: a.id, lock: false }, reloadAll); } },
          { label: "Enable", show: (a) => a.state === "disabled", run: async (a) => { await act("enableAccount", { id: a.id }, "Enable account"); } }] }))],
    ["Users", () => withForms([apis.has("createUser") ? userForm() : null],
      listView({ command: "listUsers", key: "user", cols: [["Username", (u) => u.username], ["Account", (u) => u.account], ["Domain", (u) => u.domain], ["State", (u) => stateCell(u.state)], ["API key", (u) => u.apikey ? `${String(u.apikey).slice(0, 12)}…` : ""]],
        actions: [{ label: "Generate keys", run: async (u) => {
          try { const k = (await call("registerUserKeys", { id: u.id })).userkeys; keysOut.textContent = `apikey: ${k.apikey}\nsecretkey: ${k.secretkey}`; reloadAll(); } catch (e) { alert((e as Error).message); } } }] }))],
  ]), keysOut);
}

function events() {
  main.append(h("h1", {}, "Events"));
  main.append(listView({ command: "listEvents", key: "event", filters: [{ name: "level", options: ["INFO", "WARN", "ERROR"] }],
    cols: [["Type", (e) => e.type], ["Level", (e) => e.level], ["State", (e) => e.state], ["Description", (e) => e.description], ["User", (e) => e.username], ["Account", (e) => e.account], ["Created", (e) => e.created]] }));
}

// ------------------------------------------------------------------------------------------------- router
async function route() {
  clearInterval(refreshTimer);
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const params = new URLSearchParams(query);
  const [page, arg] = path.split("/");
  if (page === "login" || !session.get()) { loginPage(params); return; }
  const navRoute = ({ instance: "instances", deploy: "instances", console: "instances" } as Record<string, string>)[page] ?? (page || "dashboard");
  try {
    if (!(await shell(navRoute))) return;
  } catch (e) { if (!(e instanceof ApiError && e.status === 401)) app.append(errBox(e)); return; }
  switch (page || "dashboard") {
    case "dashboard": return dashboard();
    case "instances": return instances();
    case "deploy": return deployWizard();
    case "instance": return instanceDetail(arg);
    case "console": return consolePage(arg, params);
    case "infrastructure": return infrastructure();
    case "storage": return storage();
    case "images": return images();
    case "networks": return networks();
    case "accounts": return accounts();
    case "events": return events();
    case "api": return apiReference(main, arg);
    default: main.append(h("h1", {}, "Not found"));
  }
}

window.addEventListener("hashchange", route);
route();
