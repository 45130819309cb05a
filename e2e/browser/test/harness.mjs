// Shared plumbing of the browser tests: one headless Debian Chromium for the
// whole run (playwright-core never downloads a browser), a fresh page per test
// that records console errors, uncaught exceptions and CSP violations, the API
// called directly to set up and check, and numbered screenshots.
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const SHOP_URL = (process.env.SHOP_URL || "http://127.0.0.1:8080").replace(/\/+$/, "");
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || path.resolve("../../out/browser");
const EXECUTABLE = process.env.CHROMIUM || "/usr/bin/chromium";

// Flags for a quiet, reproducible headless run in a container without a GPU or
// network: nothing phones home, nothing updates, no QUIC, no sandbox (we run as root).
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let context;
let profileDir;

// startBrowser launches Chromium with a fresh profile (playwright-core passes it
// as --user-data-dir; it refuses the flag in args).
export async function startBrowser() {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  profileDir = mkdtempSync(path.join(tmpdir(), "shop-chromium-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: EXECUTABLE,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 860 },
    locale: "en-US",
    timezoneId: "UTC",
  });
  // Runs before any page script; CSP does not apply to it. Collects every CSP
  // violation the page reports.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
    });
  });
  return context;
}

export async function stopBrowser() {
  if (context) {
    await context.close();
  }
  if (profileDir) {
    rmSync(profileDir, { recursive: true, force: true });
  }
}

// Chromium's note that it ignores Cross-Origin-Opener-Policy on plain HTTP from
// an address other than localhost: how make test-k8s reaches its ingress (the
// node's address, no TLS), not a defect of the page; over HTTPS the header applies.
const ALWAYS_ALLOWED = [/^The Cross-Origin-Opener-Policy header has been ignored, because the URL's origin was untrustworthy\./];

// openPage opens a page and starts recording what must never happen on it.
// allow lists console errors a test provokes on purpose (regular expressions).
export async function openPage(url, { allow = [] } = {}) {
  allow = [...allow, ...ALWAYS_ALLOWED];
  const page = await context.newPage();
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() !== "error") {
      return;
    }
    const text = `${msg.text()} (${msg.location().url || "?"})`;
    if (!allow.some((re) => re.test(text))) {
      problems.push(`console error: ${text}`);
    }
  });
  page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message}`));
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`));
  let navigations = 0;
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) {
      navigations++;
    }
  });
  const response = await page.goto(url, { waitUntil: "load" });
  return {
    page,
    response,
    navigations: () => navigations,
    // check returns everything that went wrong on the page so far.
    async check() {
      const csp = await page.evaluate(() => window.__cspViolations || []);
      return problems.concat(csp.map((v) => `CSP violation: ${v}`));
    },
  };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

// accessibilityProblems runs axe-core (WCAG 2.1 A and AA plus best practices:
// labels, contrast, ARIA, landmarks) on the page as it is now. The script is
// evaluated through the DevTools protocol, which the page's CSP does not govern.
export async function accessibilityProblems(page) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) {
    await page.evaluate(axeSource);
  }
  const result = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    }),
  );
  return result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
}

let shot = 0;

// screenshot saves a numbered full-page screenshot and returns its path.
export async function screenshot(page, name) {
  shot++;
  const file = path.join(SCREENSHOT_DIR, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// uniqueUser returns a user id no earlier run used.
export function uniqueUser(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

// api calls cm-server directly, the way a script or curl would.
export async function api(pathAndQuery, init = {}) {
  const res = await fetch(`${SHOP_URL}/${pathAndQuery.replace(/^\//, "")}`, {
    ...init,
    headers: { Accept: "application/json", ...(init.headers || {}) },
  });
  const body = await res.json();
  return { status: res.status, body };
}

// buyViaAPI posts a purchase, waiting out a 429 or 503 as its Retry-After says
// (with ratelimit.enabled a burst of set-up purchases may be throttled).
export async function buyViaAPI(purchase) {
  const key = `setup-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${SHOP_URL}/buy`, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify(purchase),
    });
    const body = await res.json();
    if ((res.status === 429 || res.status === 503) && attempt < 20) {
      const wait = Number(res.headers.get("Retry-After")) || 1;
      await new Promise((r) => setTimeout(r, wait * 1000));
      continue;
    }
    return { status: res.status, body };
  }
}

// allPurchases returns every purchase of a user, newest first, following cursors.
export async function allPurchases(userid) {
  const out = [];
  let cursor = "";
  for (;;) {
    const q = `getAllUserBuys/${encodeURIComponent(userid)}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const { status, body } = await api(q);
    if (status !== 200) {
      throw new Error(`GET ${q}: ${status} ${JSON.stringify(body)}`);
    }
    out.push(...body.purchases);
    if (!body.next_cursor) {
      return out;
    }
    cursor = body.next_cursor;
  }
}

// waitFor polls cond until it returns a truthy value or timeoutMs pass.
export async function waitFor(what, cond, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    const v = await cond();
    if (v) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
}
