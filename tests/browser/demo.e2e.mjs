// Browser end-to-end test of crates/server-session/examples/demo.rs.
//
//   node tests/browser/demo.e2e.mjs http://127.0.0.1:PORT/ [screenshot.png]
//
// Drives Debian's Chromium (/usr/bin/chromium, or $CHROMIUM_PATH) through
// playwright-core; playwright never downloads a browser here. The screenshot
// path defaults to $DEMO_SCREENSHOT, then target/browser/demo-signed-in.png,
// relative to the working directory (the repo root when run by
// crates/server-session/tests/browser_demo.rs). Exits 0 when every check
// passes, 1 with a `FAIL: ...` line otherwise.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { chromium } from 'playwright-core';

const COOKIE = 'connect.sid';
const THIRTY_DAYS_S = 30 * 24 * 60 * 60;
const HOUR_S = 60 * 60;
// Every wait is bounded so a hung page fails fast instead of stalling CI.
const STEP_TIMEOUT_MS = 10_000;
const WHOLE_RUN_TIMEOUT_MS = 40_000;

const base = process.argv[2];
const screenshotPath = resolve(
  process.argv[3] ?? process.env.DEMO_SCREENSHOT ?? 'target/browser/demo-signed-in.png',
);
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

if (!base || !/^https?:\/\//.test(base)) {
  console.error('usage: node demo.e2e.mjs <demo url> [screenshot.png]');
  process.exit(2);
}
const home = new URL('/', base).href;

const watchdog = setTimeout(() => {
  console.error(`FAIL: the browser test did not finish within ${WHOLE_RUN_TIMEOUT_MS} ms`);
  process.exit(1);
}, WHOLE_RUN_TIMEOUT_MS);
watchdog.unref();

function step(message) {
  console.log(`ok - ${message}`);
}

/** The session cookie in a browser context, or undefined. */
async function sessionCookie(context) {
  const cookies = await context.cookies(home);
  return cookies.find((c) => c.name === COOKIE);
}

/** The session ID inside a signed cookie value (`s:<id>.<signature>`, URL-encoded). */
function sessionId(value) {
  const decoded = decodeURIComponent(value);
  assert.ok(decoded.startsWith('s:'), `cookie value ${value} is not a signed express cookie`);
  const id = decoded.slice(2, decoded.lastIndexOf('.'));
  assert.ok(id.length > 0, `cookie value ${value} has no session id`);
  return id;
}

/** Plants a cookie value in a context, as an attacker (or a replay) would. */
async function plantCookie(context, value) {
  await context.addCookies([{ name: COOKIE, value, url: home, httpOnly: true, sameSite: 'Lax' }]);
}

async function newPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  return { context, page };
}

async function visitsOn(page) {
  return Number(await page.locator('#visits').textContent());
}

/**
 * Runs `action` (a form submission) and waits until the page it leads to has
 * loaded: the next `load` event belongs to the new document, as the current
 * one fired its own already.
 */
async function submitAndLoad(page, action) {
  const loaded = page.waitForEvent('load');
  await action();
  await loaded;
}

/** Fills in and submits the real sign-in form, then waits for the next page. */
async function signInWithForm(page, name, remember) {
  await page.locator('#name').fill(name);
  if (remember) {
    await page.locator('#remember').check();
  }
  await submitAndLoad(page, () => page.locator('#signin').click());
  assert.equal(await shownUser(page), name, `signing in as ${name} should show the user`);
}

/** The signed-in user the loaded page shows, or null when it shows the sign-in form. */
async function shownUser(page) {
  if ((await page.locator('#user').count()) > 0) {
    return page.locator('#user').textContent();
  }
  if ((await page.locator('#signin').count()) > 0) {
    return null;
  }
  throw new Error(`${page.url()} shows neither a user nor the sign-in form: ${(await page.content()).slice(0, 300)}`);
}

async function run(browser) {
  // 1. Anonymous visit: saveUninitialized is false, so no cookie yet.
  const alice = await newPage(browser);
  await alice.page.goto(home);
  assert.equal(await shownUser(alice.page), null, 'a first visit should show the sign-in form');
  const anonymous = await sessionCookie(alice.context);
  assert.equal(anonymous, undefined, 'an anonymous visit should not set a session cookie (saveUninitialized is false)');
  step('first visit shows the sign-in form and sets no cookie');

  // 2. Sign in without "remember me".
  await signInWithForm(alice.page, 'Alice', false);
  assert.equal(await visitsOn(alice.page), 1, 'the first page after sign-in should count visit 1');
  const aliceCookie = await sessionCookie(alice.context);
  assert.ok(aliceCookie, `signing in should set the ${COOKIE} cookie`);
  assert.equal(aliceCookie.httpOnly, true, 'the session cookie should be HttpOnly');
  assert.equal(aliceCookie.path, '/', 'the session cookie path should be /');
  assert.equal(aliceCookie.sameSite, 'Lax', 'the demo sets SameSite=Lax');
  assert.equal(aliceCookie.expires, -1, `without "remember me" the cookie should be a session cookie, got expires=${aliceCookie.expires}`);
  assert.match(
    await alice.page.locator('#remembered').textContent(),
    /signed out when the browser closes/,
    'the page should say the session ends with the browser',
  );
  step('sign-in sets an HttpOnly, SameSite=Lax session cookie (expires -1)');

  const visibleToScript = await alice.page.evaluate(() => document.cookie);
  assert.ok(!visibleToScript.includes(COOKIE), `document.cookie should not expose the HttpOnly cookie, got "${visibleToScript}"`);
  step('document.cookie does not contain the session cookie');

  // 3. The browser keeps the cookie across reloads and navigations.
  await alice.page.reload();
  assert.equal(await visitsOn(alice.page), 2, 'the first reload should count visit 2');
  await alice.page.reload();
  assert.equal(await visitsOn(alice.page), 3, 'the second reload should count visit 3');
  await alice.page.goto('about:blank');
  await alice.page.goto(home);
  assert.equal(await visitsOn(alice.page), 4, 'navigating away and back should count visit 4');
  assert.equal(await shownUser(alice.page), 'Alice', 'the user should stay signed in across navigations');
  const aliceLater = await sessionCookie(alice.context);
  assert.equal(aliceLater?.value, aliceCookie.value, 'the session cookie should stay the same across requests');
  step('visits count 1, 2, 3, 4 across reloads and navigations with one cookie');

  mkdirSync(dirname(screenshotPath), { recursive: true });
  await alice.page.screenshot({ path: screenshotPath, fullPage: true });
  step(`screenshot of the signed-in page saved to ${screenshotPath}`);

  // 4. Session fixation: a cookie planted before sign-in is not the one after.
  // An attacker gets a valid session of their own ...
  const mallory = await newPage(browser);
  await mallory.page.goto(home);
  await signInWithForm(mallory.page, 'Mallory', false);
  const planted = (await sessionCookie(mallory.context))?.value;
  assert.ok(planted, 'the attacker should have a session cookie');
  // ... and plants it in the victim's browser, whose next sign-in must not
  // keep it. The welcome page has no sign-in form, so the victim's browser
  // submits one the way any page could: a real form POST to /login.
  const victim = await newPage(browser);
  await plantCookie(victim.context, planted);
  await victim.page.goto(home);
  assert.equal(await shownUser(victim.page), 'Mallory', 'the planted cookie should be live before the victim signs in');
  await submitAndLoad(victim.page, () => victim.page.evaluate(() => {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = '/login';
    const name = document.createElement('input');
    name.name = 'name';
    name.value = 'Victor';
    form.append(name);
    document.body.append(form);
    form.submit();
  }));
  assert.equal(await shownUser(victim.page), 'Victor', 'the victim should be signed in as themselves');
  assert.equal(await visitsOn(victim.page), 1, 'the victim should start a fresh visit count');
  const afterLogin = (await sessionCookie(victim.context))?.value;
  assert.ok(afterLogin, 'the victim should have a session cookie after sign-in');
  assert.notEqual(afterLogin, planted, 'sign-in should replace the planted session cookie');
  assert.notEqual(sessionId(afterLogin), sessionId(planted), 'sign-in should change the session ID');
  // The attacker's copy is dead: regenerate destroyed the old session, so
  // it neither reaches the victim's session nor still shows Mallory.
  await mallory.page.reload();
  assert.equal(await shownUser(mallory.page), null, 'the planted (pre-login) session should be destroyed by the sign-in');
  step('sign-in changes the session ID and kills a planted pre-login cookie');

  // A second browser holding a copy of Alice's cookie from before sign-out.
  const aliceAgain = await newPage(browser);
  await plantCookie(aliceAgain.context, aliceCookie.value);
  await aliceAgain.page.goto(home);
  assert.equal(await shownUser(aliceAgain.page), 'Alice', 'a copy of a live cookie should show its user');

  // 5. Sign-out ends the session, and the old cookie cannot be replayed.
  await submitAndLoad(alice.page, () => alice.page.locator('#signout').click());
  assert.equal(await shownUser(alice.page), null, 'signing out should show the sign-in form');
  await alice.page.reload();
  assert.equal(await shownUser(alice.page), null, 'a reload after sign-out should still show the sign-in form');
  // Replay in a browser: another context gets the old value back.
  const replay = await newPage(browser);
  await plantCookie(replay.context, aliceCookie.value);
  await replay.page.goto(home);
  assert.equal(await shownUser(replay.page), null, 'replaying the signed-out cookie in a browser should not show the user');
  // The context that held a copy from before sign-out is signed out as well.
  await aliceAgain.page.reload();
  assert.equal(await shownUser(aliceAgain.page), null, 'another browser holding the old cookie should be signed out too');
  // Replay without a browser: a plain request with the Cookie header.
  const response = await fetch(home, {
    headers: { cookie: `${COOKIE}=${aliceCookie.value}` },
    redirect: 'manual',
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  assert.equal(response.status, 200, `replayed GET / should answer 200, got ${response.status}`);
  const html = await response.text();
  assert.ok(!html.includes('id="user"') && !html.includes('Alice'), 'replaying the signed-out cookie with fetch should not show the user');
  assert.ok(html.includes('id="signin"'), 'replaying the signed-out cookie with fetch should get the sign-in form');
  step('sign-out ends the session; replaying the old cookie (browser and fetch) shows no user');

  // 6. "Remember me" makes the cookie persistent for 30 days.
  const remembered = await newPage(browser);
  await remembered.page.goto(home);
  const before = Date.now() / 1000;
  await signInWithForm(remembered.page, 'Rita', true);
  const after = Date.now() / 1000;
  const persistent = await sessionCookie(remembered.context);
  assert.ok(persistent, 'signing in with "remember me" should set the session cookie');
  assert.equal(persistent.httpOnly, true, 'the remembered cookie should be HttpOnly');
  assert.ok(persistent.expires > 0, `with "remember me" the cookie should be persistent, got expires=${persistent.expires}`);
  assert.ok(
    persistent.expires >= before + THIRTY_DAYS_S - HOUR_S && persistent.expires <= after + THIRTY_DAYS_S + HOUR_S,
    `with "remember me" the cookie should expire in 30 days (±1 h): expires=${persistent.expires}, now≈${Math.round(after)}, ` +
      `off by ${Math.round(persistent.expires - after - THIRTY_DAYS_S)} s`,
  );
  assert.match(
    await remembered.page.locator('#remembered').textContent(),
    /stay signed in for 30 days/,
    'the page should say the session lasts 30 days',
  );
  await remembered.page.reload();
  assert.equal(await visitsOn(remembered.page), 2, 'the remembered session should count visits too');
  step('"remember me" sets a persistent cookie expiring in 30 days (±1 h)');
}

let browser;
let failed = false;
try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: STEP_TIMEOUT_MS,
    // This machine's network is closed: without the background-networking
    // flags Chromium keeps trying (and failing) to reach Google. playwright
    // gives every launch a fresh temporary --user-data-dir itself (it refuses
    // one in args), so no profile state leaks between runs.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  await run(browser);
  console.log('PASS: demo browser test');
} catch (error) {
  failed = true;
  console.error(`FAIL: ${error?.message ?? error}`);
  if (error?.stack) {
    console.error(error.stack);
  }
} finally {
  await browser?.close().catch(() => {});
}
process.exit(failed ? 1 : 0);
