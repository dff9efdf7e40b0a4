// Browser scenarios for the devcloud web UI, driven by playwright-core in Debian's Chromium (no browser download).
// Usage: node tests/ui/run.mjs <config.json>; config: {base, admin: {username, password}, user: {...}, artifacts,
// adminVm, vmName, userdata, typeLine, guest, forms}; prints one JSON line {ok, steps, error, vmId, serial, made,
// errors, natShown}. Screenshots go to config.artifacts. With `forms` (names and values to type) the admin also
// creates an account, a user, a guest network (the wizard deploys into it), a public IP, firewall, port forwarding,
// load balancer, static NAT and security group rules through the forms, and tries refused inputs; `made` has the ids
// and `errors` the error texts the forms showed. With `guest: {user, password, mark}` the console is a real guest's: the runner waits for its
// serial log to say the guest is ready, logs in on the VGA console and types `echo <mark> > /dev/ttyS0`, then
// waits for the mark in the serial log read back through the API (the command's effect, seen outside the guest).
import { createRequire } from "node:module";
import { readFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "..", "ui", "package.json"));
const { chromium } = require("playwright-core");

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
mkdirSync(cfg.artifacts, { recursive: true });
const steps = [];
const step = (s) => { steps.push(s); };
const shot = (page, name) => page.screenshot({ path: join(cfg.artifacts, `${name}.png`), fullPage: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let page;
let vmId;
let serial = "";
const made = {};
const errors = {};
let natShown;
async function login(ctx, who) {
  page = await ctx.newPage();
  page.on("dialog", (d) => d.accept());
  await page.goto(`${cfg.base}/client/`);
  await page.fill("#username", who.username);
  await page.fill("#password", who.password);
  await page.fill("#domain", "/");
  await page.click("button[type=submit]");
  await page.waitForSelector("nav a[data-page=dashboard]");
  return page;
}

async function adminScenario() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await ctx.newPage();
  await page.goto(`${cfg.base}/client/`);
  await page.waitForSelector("#login");
  await shot(page, "login");
  await page.close();
  await login(ctx, cfg.admin);
  await page.waitForSelector("[data-card='Running instances']");
  await page.waitForSelector("[data-card^='Hosts up']");
  await page.waitForSelector("[data-list=listEvents] table, [data-list=listEvents] .empty");
  await shot(page, "dashboard");
  step("admin dashboard");
  for (const p of ["infrastructure", "accounts", "events", "images", "networks", "storage"]) {
    await page.click(`nav a[data-page=${p}]`);
    await page.waitForSelector("main h1");
    await page.waitForSelector("main table, main .empty", { timeout: 10000 });
    await shot(page, p);
  }
  step("admin pages");
  if (cfg.forms) await accountForms(cfg.forms);
  if (cfg.forms) await networkForm(cfg.forms);
  await page.click("nav a[data-page=instances]");
  await page.click("#deploy");
  await page.waitForSelector("#f-templateid option", { state: "attached" });
  if (made.networkId) await choose("#f-networkids", made.networkId);
  await page.fill("#f-name", cfg.vmName || "ui-vm-1");
  await page.fill("#f-userdata", cfg.userdata || "#cloud-config\nhostname: ui-vm-1\n");
  await shot(page, "deploy-wizard");
  await page.click("#launch");
  await page.waitForURL(/#\/instance\/[0-9a-f-]{36}/, { timeout: 120000 });
  await page.waitForSelector("#instance h1 .state-Running", { timeout: 120000 });
  await page.waitForSelector("#instance td:has-text('ROOT')");
  vmId = page.url().split("/").pop();
  await shot(page, "instance");
  step("deployed from the wizard: Running");
  await page.click("#console");
  await page.waitForSelector("#console-status[data-state=connected]", { timeout: 30000 });
  await page.waitForSelector("#screen canvas", { state: "attached" });
  const nonBlank = async () => page.evaluate(() => {
    const c = document.querySelector("#screen canvas");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let lit = 0; for (let i = 0; i < d.length; i += 4) if (d[i] || d[i + 1] || d[i + 2]) lit++;
    return { w: c.width, h: c.height, lit };
  });
  const fb = await page.waitForFunction(() => {
    const c = document.querySelector("#screen canvas");
    if (!c || !c.width) return false;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) if (d[i] || d[i + 1] || d[i + 2]) return true;
    return false;
  }, null, { timeout: 30000 });
  const before = await nonBlank();
  step(`console framebuffer ${before.w}x${before.h}, ${before.lit} lit pixels`);
  if (cfg.guest) {
    await loginOnConsole(cfg.guest);
  } else {
    await page.click("#screen canvas");
    await page.keyboard.type(cfg.typeLine || "hello", { delay: 30 });
    await page.keyboard.press("Enter");
    await page.waitForTimeout(500);
    step("typed a line into the console");
  }
  await shot(page, "console");
  if (cfg.forms) {  // before Stop/Destroy: the rules point at the running VM
    await networkRuleForms(cfg.forms);
    await page.goto(`${cfg.base}/client/#/instance/${vmId}`);
  } else await page.click("a[href^=\"#/instance/\"]");
  await page.waitForSelector("#instance button[data-action=Stop]");
  await page.click("#instance button[data-action=Stop]");
  await page.waitForSelector("#instance h1 .state-Stopped", { timeout: 120000 });
  step("stopped");
  await page.click("#instance button[data-action=Destroy]");
  await page.waitForSelector("#instance h1 .state-Destroyed, #instance .error", { timeout: 120000 });
  step("destroyed");
  await ctx.close();
}

// ---- the create forms: open one, fill it (selects by option value, or {label}), submit, see the result
async function choose(sel, v) {
  await page.waitForFunction(([s, v]) => [...(document.querySelector(s)?.options ?? [])].some(
    (o) => (typeof v === "string" ? o.value === v : o.label === v.label)), [sel, v]);
  await page.selectOption(sel, v);
}
async function submitForm(id, values) {
  if (!(await page.isVisible(`#${id}`))) await page.click(`[data-form=${id}] summary`);
  for (const [k, v] of Object.entries(values)) {
    const sel = `#${id}-${k}`;
    if ((await page.$eval(sel, (e) => e.tagName)) === "SELECT") await choose(sel, v);
    else await page.fill(sel, String(v));
  }
  await page.click(`#${id} button[type=submit]`);
}
/** Submits values the server refuses; returns the error text the form shows. */
async function refused(id, values, needle) {
  await submitForm(id, values);
  const el = await page.waitForSelector(`#${id} .error`, { timeout: 30000 });
  const text = (await el.textContent()) ?? "";
  if (!text.includes(needle)) throw new Error(`${id} showed "${text}", not "${needle}"`);
  return text;
}
/** A picker refilled by a list call that began before the user chose (a job's end, another field's change) keeps
 *  what was chosen meanwhile: the instance picker's listVirtualMachines answer is held while the instance is
 *  chosen, then released. */
async function pickerKeepsChoiceMadeDuringRefill(id, ipId) {
  const ip = `#${id}-publicipid`, vms = `#${id}-virtualmachineids`;
  if (!(await page.isVisible(`#${id}`))) await page.click(`[data-form=${id}] summary`);
  await choose(ip, ipId);
  await choose(vms, vmId);
  await page.selectOption(vms, []);
  let release;
  const held = new Promise((r) => { release = r; });
  const isList = (req) => (req.postData() ?? "").includes("command=listVirtualMachines");
  await page.route("**/client/api", async (route) => { if (isList(route.request())) await held; await route.continue(); });
  await page.$eval(ip, (e) => e.dispatchEvent(new Event("change")));  // the refill starts with nothing chosen
  await page.selectOption(vms, vmId);
  // the picker announces a finished refill with a change event of its own; the listener is in place before the
  // held answer is let go (an $eval still on its way could miss an event that comes first, and wait for ever)
  await page.$eval(vms, (e) => {
    e.dataset.refilled = "";
    e.addEventListener("change", () => { e.dataset.refilled = "yes"; }, { once: true });
  });
  release();
  await page.waitForSelector(`${vms}[data-refilled=yes]`, { state: "attached", timeout: 30000 });
  await page.unroute("**/client/api");
  const chosen = await page.$eval(vms, (e) => [...e.selectedOptions].map((o) => o.value));
  if (chosen.join() !== vmId) throw new Error(`${id}: the instance chosen during a refill was dropped (chosen: ${chosen})`);
  await page.selectOption(vms, []);
}
const tab = (name) => page.click(`[data-tab='${name}']`);
const row = (list, text) => page.waitForSelector(`[data-list=${list}] tr:has-text('${text}')`, { timeout: 60000 });

async function accountForms(f) {
  await page.click("nav a[data-page=accounts]");
  const person = (u) => ({ username: u, password: "uipass-1", email: `${u}@example.org`, firstname: "Ada", lastname: "Lovelace" });
  await submitForm("account-form", { ...person(f.account), email: f.email, firstname: f.firstname, lastname: f.lastname,
    roleid: { label: "User (User)" }, domainid: { label: "ROOT" } });
  await page.waitForSelector(`[data-list=listAccounts] tr[data-name='${f.account}']`, { timeout: 30000 });
  step("account created from the form");
  errors.account = await refused("account-form", { ...person(f.account), roleid: { label: "User (User)" } }, "already exists");
  await shot(page, "account-form");
  step(`duplicate account refused: ${errors.account}`);
  await tab("Users");
  await submitForm("user-form", { accountid: { label: `${f.account} (ROOT)` }, ...person(f.user) });
  await page.waitForSelector(`[data-list=listUsers] tr[data-name='${f.user}']`, { timeout: 30000 });
  step("user added to the account from the form");
}

async function networkForm(f) {
  await page.click("nav a[data-page=networks]");
  await submitForm("network-form", { name: f.network, displaytext: f.networkText, networkofferingid: f.offering });
  const r = await page.waitForSelector(`[data-list=listNetworks] tr[data-name='${f.network}']`, { timeout: 30000 });
  made.networkId = await r.getAttribute("data-id");
  step("guest network created from the form");
}

/** The row of a public IP on the created network that is not its source NAT and not yet known: [id, address]. */
async function newIp(f) {
  const h = await page.waitForFunction(([net, known]) => {
    for (const tr of document.querySelectorAll("[data-list=listPublicIpAddresses] tr[data-id]")) {
      const td = [...tr.children].map((c) => c.textContent);
      if (td[4] === net && td[2] === "" && !known.includes(tr.dataset.id)) return [tr.dataset.id, tr.dataset.name];
    }
    return false;
  }, [f.network, [made.ipId, made.natIpId].filter(Boolean)], { timeout: 60000 });
  return h.jsonValue();
}

async function networkRuleForms(f) {
  made.vmId = vmId;
  await page.click("nav a[data-page=networks]");
  await tab("Public IPs");
  await submitForm("ip-form", { networkid: made.networkId });
  [made.ipId, made.ip] = await newIp(f);
  step(`public IP ${made.ip} acquired from the form`);
  await tab("Firewall");
  await submitForm("fw-form", { ipaddressid: made.ipId, protocol: "tcp", startport: 22, endport: 22, cidrlist: f.fwCidr });
  await row("listFirewallRules", f.fwCidr);
  step("firewall rule added from the form");
  errors.firewall = await refused("fw-form", { ipaddressid: made.ipId, startport: 70000, endport: 70000 }, "65535");
  step(`port 70000 refused: ${errors.firewall}`);
  await tab("Port forwarding");
  await submitForm("pf-form", { ipaddressid: made.ipId, protocol: "tcp", publicport: 2222, privateport: 22, virtualmachineid: vmId });
  await row("listPortForwardingRules", "2222-2222");
  await shot(page, "network-forms");
  step("port forwarding rule added from the form");
  await tab("Load balancers");
  await pickerKeepsChoiceMadeDuringRefill("lb-form", made.ipId);
  step("an instance chosen while its picker refills stays chosen");
  await submitForm("lb-form", { publicipid: made.ipId, name: f.lb, algorithm: "leastconn", publicport: 80, privateport: 8080,
    virtualmachineids: vmId });
  await page.waitForSelector(`[data-list=listLoadBalancerRules] tr[data-name='${f.lb}']`, { timeout: 30000 });
  // the form's button is disabled until both jobs (create, then assign) have ended; a done job's entry in the job
  // panel is gone after 8 s, too short a window to wait for on a loaded machine
  await page.waitForSelector("[data-form=lb-form] button[type=submit]:not([disabled])", { timeout: 60000 });
  step("load balancer added and the VM assigned from the form");
  await tab("Public IPs");
  await submitForm("ip-form", { networkid: made.networkId });
  [made.natIpId] = await newIp(f);
  await submitForm("nat-form", { ipaddressid: made.natIpId, virtualmachineid: vmId });
  const nat = `[data-list=listPublicIpAddresses] tr[data-id='${made.natIpId}']`;
  await page.waitForSelector(`${nat} button[data-action='Disable static NAT']`, { timeout: 30000 });
  natShown = await page.textContent(`${nat} td:nth-child(4)`);
  await page.click(`${nat} button[data-action='Disable static NAT']`);
  await page.waitForFunction((s) => !document.querySelector(`${s} button[data-action='Disable static NAT']`), nat, { timeout: 30000 });
  step("static NAT enabled from the form, then disabled");
  await tab("Security groups");
  if (await page.$("[data-form=sg-form]")) {
    await submitForm("sg-form", { name: f.sg, description: "from the UI" });
    await page.waitForSelector(`[data-list=listSecurityGroups] tr[data-name='${f.sg}']`, { timeout: 30000 });
    await submitForm("ingress-form", { securitygroupid: { label: `${f.sg} (admin)` }, protocol: "tcp", startport: 80, endport: 80, cidrlist: f.sgCidr });
    await row("listSecurityGroups", f.sgCidr);
    step("security group and ingress rule added from the forms");
  }
}

async function serialLog() {
  await page.click("#show-serial");
  await page.waitForFunction(() => (document.querySelector("#serial-log")?.textContent ?? "") !== "");
  return (await page.textContent("#serial-log")) ?? "";
}

async function waitSerial(needle, ms) {
  const end = Date.now() + ms;
  for (;;) {
    serial = await serialLog();
    if (serial.includes(needle)) return;
    if (Date.now() > end) throw new Error(`the serial log never showed ${needle}: ...${serial.slice(-600)}`);
    await page.waitForTimeout(1000);
  }
}

// keyboard.type() sends "A" or ">" without Shift held; QEMU turns VNC keysyms into PC scancodes and needs the
// modifier to be down, as it is when a person types.
const SHIFTED = `~!@#$%^&*()_+{}|:"<>?`;
async function typeLine(text) {
  for (const ch of text) {
    const shift = SHIFTED.includes(ch) || (ch >= "A" && ch <= "Z");
    if (shift) await page.keyboard.down("Shift");
    await page.keyboard.press(ch);
    if (shift) await page.keyboard.up("Shift");
    await page.waitForTimeout(30);
  }
  await page.keyboard.press("Enter");
}

// Types at the VGA console as a person would: login, password, then a command whose only effect is on the serial
// port. Getty flushes input typed before it opens tty1, so a lost attempt is retried from a fresh prompt.
async function loginOnConsole(guest) {
  await waitSerial("DEVCLOUD-GUEST-READY", 240000);
  step("serial log: guest ready");
  for (let attempt = 1; ; attempt++) {
    await page.click("#screen canvas");
    await page.keyboard.press("Enter");
    await page.waitForTimeout(2000);
    await typeLine(guest.user);
    await page.waitForTimeout(2000);
    await typeLine(guest.password);
    await page.waitForTimeout(4000);
    await typeLine(`echo ${guest.mark} > /dev/ttyS0`);
    try {
      await waitSerial(guest.mark, 20000);
      step(`logged in on the console (attempt ${attempt}); the typed command wrote ${guest.mark} to the serial log`);
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      await typeLine("exit");
      await page.waitForTimeout(5000);
    }
  }
}

async function userScenario() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await login(ctx, cfg.user);
  const pages = await page.$$eval("nav a", (as) => as.map((a) => a.dataset.page));
  if (pages.includes("infrastructure") || pages.includes("accounts")) throw new Error(`admin pages shown to a user: ${pages}`);
  step(`user nav: ${pages.join(",")}`);
  await page.goto(`${cfg.base}/client/#/infrastructure`);
  await page.waitForSelector("#forbidden");
  step("user: infrastructure forbidden");
  await page.goto(`${cfg.base}/client/#/networks`);
  await page.waitForSelector("[data-form=network-form]");  // listApis offers createNetwork to a user
  await page.click("[data-tab='Security groups']");
  await page.waitForSelector("[data-form=sg-form]");
  step("user: network and security group forms offered");
  await page.goto(`${cfg.base}/client/#/instances`);
  await page.waitForSelector("[data-list=listVirtualMachines] table, [data-list=listVirtualMachines] .empty");
  const names = await page.$$eval("[data-list=listVirtualMachines] tr[data-id]", (rs) => rs.map((r) => r.dataset.id));
  if (names.includes(cfg.adminVm)) throw new Error("the user sees the admin's VM");
  if (!names.includes(cfg.userVm)) throw new Error(`the user does not see their own VM: ${names}`);
  await shot(page, "user-instances");
  step("user sees only their VM");
  await page.goto(`${cfg.base}/client/#/instance/${cfg.adminVm}`);
  await page.waitForSelector("#instance .error");
  step("user: admin VM details refused");
  await page.click("#logout");
  await page.waitForSelector("#login");
  step("logout");
  // session expiry: a stale session key is sent back to the login page
  await login(ctx, cfg.user);
  await ctx.clearCookies();
  await page.goto(`${cfg.base}/client/#/events`);
  await page.waitForSelector("#login", { timeout: 10000 });
  step("expired session -> login");
  await ctx.close();
}

// The API reference page (UI_SCENARIO=apiref only): the command list from /client/api/openapi.json, the filter,
// and one command's parameters; `apiref` in the result has what the page showed.
let apiref;
async function apiRefScenario() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await login(ctx, cfg.admin);
  await page.click("nav a[data-page=api]");
  await page.waitForSelector("#api-commands li[data-command=listZones]");
  const listed = await page.$$eval("#api-commands li", (ls) => ls.map((l) => l.dataset.command));
  step(`API reference lists ${listed.length} commands`);
  await page.fill("#api-filter", cfg.command.slice(0, -2));
  await page.waitForFunction((n) => document.querySelectorAll("#api-commands li").length < n, listed.length);
  const filtered = await page.$$eval("#api-commands li", (ls) => ls.map((l) => l.dataset.command));
  await page.click(`#api-commands li[data-command=${cfg.command}] a`);
  await page.waitForSelector(`#api-command[data-command=${cfg.command}] #api-params`);
  const params = await page.$$eval("#api-params tr[data-param]", (rs) => rs.map((r) => ({
    name: r.dataset.param, required: r.children[1].textContent === "yes", type: r.children[2].textContent,
    description: r.children[3].textContent })));
  await shot(page, "api-reference");
  step(`${cfg.command}: ${params.length} parameters shown`);
  apiref = { listed, filtered, params, hash: await page.evaluate(() => location.hash) };
  await ctx.close();
}

// A scenario stuck past cfg.deadline seconds (an await that never ends) still reports how far it got, before the
// caller's own timeout kills it with nothing said.
if (cfg.deadline) {
  setTimeout(async () => {
    if (page) await shot(page, "failure").catch(() => {});
    console.log(JSON.stringify({ ok: false, steps, vmId, made, errors,
      error: `still running after ${cfg.deadline} s; the last step done: ${steps.at(-1) ?? "none"}` }));
    process.exit(3);
  }, cfg.deadline * 1000).unref();
}

let result;
try {
  const only = process.env.UI_SCENARIO;
  if (!only || only === "admin") await adminScenario();
  if (!only || only === "user") await userScenario();
  if (only === "apiref") await apiRefScenario();
  result = { ok: true, steps, vmId, serial: serial.slice(-4000), made, errors, natShown, apiref };
} catch (e) {
  if (page) await shot(page, "failure").catch(() => {});
  result = { ok: false, steps, vmId, serial: serial.slice(-4000), made, errors, error: String(e && e.stack || e) };
}
await browser.close();
console.log(JSON.stringify(result));
