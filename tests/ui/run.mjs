// Browser scenarios for the devcloud web UI, driven by playwright-core in Debian's Chromium (no browser download).
// Usage: node tests/ui/run.mjs <config.json>; config: {base, admin: {username, password}, user: {...}, artifacts,
// adminVm, vmName, userdata, typeLine, guest}; prints one JSON line {ok, steps, error, vmId, serial}. Screenshots go
// to config.artifacts. With `guest: {user, password, mark}` the console is a real guest's: the runner waits for its
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
  await page.click("nav a[data-page=instances]");
  await page.click("#deploy");
  await page.waitForSelector("#f-templateid option", { state: "attached" });
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
  await page.click("a[href^=\"#/instance/\"]");
  await page.waitForSelector("#instance button[data-action=Stop]");
  await page.click("#instance button[data-action=Stop]");
  await page.waitForSelector("#instance h1 .state-Stopped", { timeout: 120000 });
  step("stopped");
  await page.click("#instance button[data-action=Destroy]");
  await page.waitForSelector("#instance h1 .state-Destroyed, #instance .error", { timeout: 120000 });
  step("destroyed");
  await ctx.close();
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

let result;
try {
  const only = process.env.UI_SCENARIO;
  if (!only || only === "admin") await adminScenario();
  if (!only || only === "user") await userScenario();
  result = { ok: true, steps, vmId, serial: serial.slice(-4000) };
} catch (e) {
  if (page) await shot(page, "failure").catch(() => {});
  result = { ok: false, steps, vmId, serial: serial.slice(-4000), error: String(e && e.stack || e) };
}
await browser.close();
console.log(JSON.stringify(result));
