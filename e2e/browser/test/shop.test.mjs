// The customer page in a real browser against the real stack (`make run`'s
// embedded Kafka and FerretDB, cm-api and cm-server). Run by ../run.sh, which
// starts the stack and sets SHOP_URL.
import assert from "node:assert/strict";
import http from "node:http";
import { after, afterEach, before, describe, test } from "node:test";

import {
  SHOP_URL,
  accessibilityProblems,
  allPurchases,
  api,
  buyViaAPI,
  openPage,
  screenshot,
  startBrowser,
  stopBrowser,
  uniqueUser,
  waitFor,
} from "./harness.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// How long a purchase may take from 202 to the list (the page polls for 30 s).
const SHOWS_WITHIN_MS = 30000;

let current; // the page of the running test, checked after it

before(startBrowser);
after(stopBrowser);
afterEach(async () => {
  if (!current) {
    return;
  }
  const problems = await current.check();
  await current.page.close();
  current = null;
  assert.deepEqual(problems, [], "the page had console errors, exceptions, failed requests or CSP violations");
});

async function open(url = `${SHOP_URL}/`, options) {
  current = await openPage(url, options);
  return current;
}

async function fillPurchase(page, { userid, username, price }) {
  await page.getByLabel("User id").fill(userid);
  await page.getByLabel("Name").fill(username);
  await page.getByLabel("Price").fill(price);
}

function row(page, id) {
  return page.locator(`#purchases-body tr[data-id="${id}"]`);
}

describe("customer page", () => {
  test("is served with a strict CSP and the security headers", async () => {
    const { page, response } = await open();
    const h = response.headers();
    assert.equal(response.status(), 200);
    assert.match(h["content-type"], /^text\/html/);
    assert.equal(
      h["content-security-policy"],
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'self'; frame-ancestors 'none'",
    );
    assert.equal(h["x-frame-options"], "DENY");
    assert.equal(h["x-content-type-options"], "nosniff");
    assert.equal(h["referrer-policy"], "no-referrer");
    assert.ok(h["permissions-policy"]);
    assert.match(h["vary"], /Accept/);
    assert.equal(await page.title(), "Scalable Shop");
    // Every input has a visible label.
    for (const label of ["User id", "Name", "Price"]) {
      assert.equal(await page.getByLabel(label).count(), 1, `one input labelled ${label}`);
    }
    await screenshot(page, "page-empty");
    assert.deepEqual(await accessibilityProblems(page), [], "axe finds no accessibility problems");
  });

  test("buy: the confirmation shows the id and the purchase appears in the list without a reload", async () => {
    const { page, navigations } = await open();
    const userid = uniqueUser("ada");
    await fillPurchase(page, { userid, username: "Ada Lovelace", price: "12.50" });
    await screenshot(page, "buy-filled");
    await page.getByRole("button", { name: "Buy" }).click();

    const confirmation = page.locator("#confirmation");
    await confirmation.waitFor({ state: "visible" });
    const id = (await page.locator("#confirmation-id").textContent()).trim();
    assert.match(id, UUID);
    assert.equal(await page.evaluate(() => document.activeElement.id), "confirmation", "focus moves to the confirmation");

    await row(page, id).waitFor({ state: "visible", timeout: SHOWS_WITHIN_MS });
    await page.locator("#confirmation-state", { hasText: "Recorded" }).waitFor();
    assert.equal(navigations(), 1, "the page never reloaded");
    const cells = await row(page, id).locator("td").allTextContents();
    assert.equal(cells[1], "Ada Lovelace");
    assert.equal(cells[2], "12.50");
    assert.equal(cells[3], id);
    await screenshot(page, "buy-shown-in-list");

    const stored = await allPurchases(userid);
    assert.deepEqual(stored.map((p) => p.id), [id], "the API has exactly this purchase");

    // A second purchase goes on top of the first, still without a reload.
    await page.getByLabel("Price").fill("3.20");
    await page.getByRole("button", { name: "Buy" }).click();
    await page.locator("#confirmation-state", { hasText: "Recorded" }).waitFor({ timeout: SHOWS_WITHIN_MS });
    const second = (await page.locator("#confirmation-id").textContent()).trim();
    assert.notEqual(second, id);
    const ids = await page.locator("#purchases-body tr").evaluateAll((rows) => rows.map((r) => r.dataset.id));
    assert.deepEqual(ids, [second, id], "newest first");
    assert.equal(navigations(), 1, "the page never reloaded");
    await screenshot(page, "buy-second-on-top");
    // End the arrival highlight so contrast is measured as the rows stay.
    await page.evaluate(() => document.getAnimations().forEach((a) => a.finish()));
    assert.deepEqual(await accessibilityProblems(page), [], "axe: list and confirmation");

    await page.emulateMedia({ colorScheme: "dark" });
    await screenshot(page, "buy-dark-mode");
    assert.deepEqual(await accessibilityProblems(page), [], "axe: dark mode");
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: "light" });
    await screenshot(page, "buy-narrow-screen");
  });

  test("an invalid price shows the error next to the price field and buys nothing", async () => {
    // The browser logs the 400 of the refused POST; that one is expected.
    const { page } = await open(undefined, { allow: [/status of 400 .*\/buy\)$/] });
    const userid = uniqueUser("bob");
    await fillPurchase(page, { userid, username: "Bob", price: "1.005" });
    await page.getByRole("button", { name: "Buy" }).click();

    const priceError = page.locator("#price-error");
    await priceError.waitFor({ state: "visible" });
    assert.equal(await priceError.textContent(), "Price must have at most 2 decimals.");
    const price = page.getByLabel("Price");
    assert.equal(await price.getAttribute("aria-invalid"), "true");
    assert.match(await price.getAttribute("aria-describedby"), /\bprice-error\b/);
    assert.equal(await page.evaluate(() => document.activeElement.id), "price", "focus moves to the field to fix");
    // The error sits in the price field's block, between its label and its input.
    assert.equal(await page.locator("#price-field #price-error").count(), 1);
    assert.ok(await page.locator("#userid-error").isHidden(), "no error on the valid user id");
    assert.ok(await page.locator("#confirmation").isHidden(), "no confirmation");
    assert.match(await page.locator("#buy-status").textContent(), /Nothing was bought/);
    await screenshot(page, "invalid-price");

    // Several problems at once: each next to its own field.
    await page.getByLabel("Name").fill("");
    await page.getByLabel("Price").fill("-3");
    await page.getByRole("button", { name: "Buy" }).click();
    await page.locator("#username-error").waitFor({ state: "visible" });
    assert.equal(await page.locator("#username-error").textContent(), "Name is required.");
    assert.match(await page.locator("#price-error").textContent(), /^Price must be a positive decimal number/);
    assert.equal(await page.evaluate(() => document.activeElement.id), "username", "focus on the first field to fix");
    await screenshot(page, "invalid-name-and-price");
    assert.deepEqual(await accessibilityProblems(page), [], "axe: the form with errors");

    // Typing a new value clears that field's error.
    await page.getByLabel("Price").fill("2");
    assert.ok(await page.locator("#price-error").isHidden());
    assert.equal(await page.getByLabel("Price").getAttribute("aria-invalid"), null);

    // Nothing was bought: give cm-api time to store a stray purchase, then ask it.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await allPurchases(userid), [], "the user has no purchases");
  });

  test("a busy shop: a look-up answered 503 says the shop is busy and to try again, and the retry shows the list", async () => {
    // cm-server's answer when cm-api sheds the look-up or the store misses
    // cm-api's lookup.timeout (e2e/cmapi/lookup_test.go holds the services to it);
    // the browser only plays it here, since a slow store cannot be ordered up.
    const { page } = await open(undefined, { allow: [/status of 503 .*\/getAllUserBuys\//] });
    const userid = uniqueUser("busy");
    let refused = 0;
    await page.route(/\/getAllUserBuys\//, async (route) => {
      if (refused++ > 0) {
        return route.continue();
      }
      await route.fulfill({
        status: 503,
        headers: { "Content-Type": "application/json", "Retry-After": "1" },
        body: JSON.stringify({ error: { code: "unavailable", message: "purchase history is unavailable right now; retry later" } }),
      });
    });
    await page.getByLabel("User id").fill(userid);
    await page.getByRole("button", { name: "Show purchases" }).click();
    const error = page.locator("#purchases-error");
    await error.waitFor({ state: "visible" });
    assert.equal(await error.textContent(), "The shop is busy and cannot show the purchases right now. Please try again in a moment.");
    await screenshot(page, "lookup-busy");

    // Trying again, as the message says, shows the (empty) list.
    await page.getByRole("button", { name: "Show purchases" }).click();
    await page.locator("#purchases-empty").waitFor({ state: "visible" });
    assert.ok(await error.isHidden(), "the busy message goes once the look-up answers");
    assert.equal(refused, 2);
  });

  test("paging: Load more appends older purchases, newest first, until there are no more", async () => {
    const userid = uniqueUser("carol");
    const start = Date.now() - 2 * 3600 * 1000;
    for (let i = 0; i < 25; i++) {
      const ts = new Date(start + i * 60000).toISOString();
      const { status } = await buyViaAPI({ userid, username: `Carol ${i + 1}`, price: `${i + 1}.00`, timestamp: ts });
      assert.equal(status, 202);
    }
    const stored = await waitFor("25 purchases stored", async () => {
      const all = await allPurchases(userid);
      return all.length === 25 ? all : null;
    });

    const { page, navigations } = await open();
    await page.getByLabel("User id").fill(userid);
    await page.getByRole("button", { name: "Show purchases" }).click();
    const rows = page.locator("#purchases-body tr");
    await waitFor("the first page", async () => (await rows.count()) === 20);
    const more = page.getByRole("button", { name: "Load more" });
    assert.ok(await more.isVisible(), "Load more is offered");
    assert.equal(await rows.first().locator("td").nth(1).textContent(), "Carol 25", "newest first");
    await screenshot(page, "paging-first-page");

    await more.click();
    await waitFor("the second page", async () => (await rows.count()) === 25);
    await page.locator("#purchases-end").waitFor({ state: "visible" });
    assert.ok(await more.isHidden(), "no Load more after the last page");
    const ids = await rows.evaluateAll((trs) => trs.map((r) => r.dataset.id));
    assert.deepEqual(ids, stored.map((p) => p.id), "the page shows what the API has, in its order");
    assert.equal(await rows.last().locator("td").nth(1).textContent(), "Carol 1");
    assert.equal(
      await page.evaluate(() => document.activeElement.closest("tr")?.dataset.id),
      stored[20].id,
      "focus moves to the first row Load more brought",
    );
    assert.equal(navigations(), 1);
    await screenshot(page, "paging-all-loaded");
    assert.deepEqual(await accessibilityProblems(page), [], "axe: the full list");
  });

  test("keyboard only: tab through the form, buy with Enter, see the purchase", async () => {
    const { page } = await open();
    const userid = uniqueUser("dan");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.className), "skip-link", "the first Tab reaches the skip link");
    assert.ok(await page.locator(".skip-link").isVisible(), "the skip link shows when focused");
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement.id), "buy-heading");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "userid");
    await page.keyboard.type(userid);
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "show-button");
    // The focused button has a visible focus ring.
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, "solid", "visible focus");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "username");
    await page.keyboard.type("Dan Keys");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "price");
    await page.keyboard.type("7.25");
    await screenshot(page, "keyboard-filled");
    await page.keyboard.press("Enter");

    await page.locator("#confirmation").waitFor({ state: "visible" });
    assert.equal(await page.evaluate(() => document.activeElement.id), "confirmation");
    const id = (await page.locator("#confirmation-id").textContent()).trim();
    await row(page, id).waitFor({ state: "visible", timeout: SHOWS_WITHIN_MS });
    await screenshot(page, "keyboard-bought");
    assert.deepEqual((await allPurchases(userid)).map((p) => p.price), ["7.25"]);
  });

  test("under an ingress path prefix (/shop, no trailing slash) the page, its assets and its API calls work", async () => {
    // A stand-in for the ingress as the chart configures it: /shop and /shop/…
    // reach cm-server with the prefix stripped (/shop itself as "/"), and
    // X-Forwarded-Prefix names it. No redirect: the page must work at /shop.
    // With SHOP_PREFIX_URL (make test-k8s) that is a real ingress route instead.
    const upstream = new URL(SHOP_URL);
    const proxy = http.createServer((req, res) => {
      if (req.url !== "/shop" && !req.url.startsWith("/shop/")) {
        res.writeHead(404).end();
        return;
      }
      const out = http.request(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url.slice("/shop".length) || "/",
          headers: { ...req.headers, host: upstream.host, "x-forwarded-prefix": "/shop" },
        },
        (up) => {
          res.writeHead(up.statusCode, up.headers);
          up.pipe(res);
        },
      );
      out.on("error", () => res.writeHead(502).end());
      req.pipe(out);
    });
    const real = process.env.SHOP_PREFIX_URL && new URL(process.env.SHOP_PREFIX_URL.replace(/\/+$/, ""));
    if (real && real.pathname !== "/shop") throw new Error(`SHOP_PREFIX_URL must end in /shop, got ${real}`);
    if (!real) await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
    const base = real ? real.origin : `http://127.0.0.1:${proxy.address().port}`;
    try {
      const seen = [];
      const { page } = await open(`${base}/shop`);
      page.on("request", (r) => seen.push(new URL(r.url()).pathname));
      assert.equal(new URL(page.url()).pathname, "/shop");
      const userid = uniqueUser("eve");
      await fillPurchase(page, { userid, username: "Eve", price: "1" });
      await page.getByRole("button", { name: "Buy" }).click();
      await page.locator("#confirmation").waitFor({ state: "visible" });
      const id = (await page.locator("#confirmation-id").textContent()).trim();
      await row(page, id).waitFor({ state: "visible", timeout: SHOWS_WITHIN_MS });
      assert.ok(seen.includes("/shop/buy"), `the page posted to /shop/buy (saw ${seen.join(", ")})`);
      assert.ok(seen.every((p) => p.startsWith("/shop/")), `every request stayed under /shop/ (saw ${seen.join(", ")})`);
      const css = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.notEqual(css, "rgba(0, 0, 0, 0)", "the style sheet loaded under the prefix");
      await screenshot(page, "prefix-bought");
    } finally {
      if (!real) {
        proxy.closeAllConnections();
        await new Promise((r) => proxy.close(r));
      }
    }
  });

  test("API clients still get JSON at /", async () => {
    const { status, body } = await api("");
    assert.equal(status, 200);
    assert.equal(body.service, "cm-server");
  });
});
