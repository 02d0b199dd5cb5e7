// Browser end-to-end test of crates/server-session/examples/demo.rs, which
// runs the library's hardened configuration (SessionConfig::hardened).
//
//   node tests/browser/demo.e2e.mjs http://127.0.0.1:PORT/ [screenshot.png]
//
// Drives Debian's Chromium (/usr/bin/chromium, or $CHROMIUM_PATH) through
// playwright-core; playwright never downloads a browser here. The screenshot
// path defaults to $DEMO_SCREENSHOT, then target/browser/demo-signed-in.png,
// relative to the working directory (the repo root when run by
// crates/server-session/tests/browser_demo.rs). Exits 0 when every check
// passes, 1 with a `FAIL: ...` line otherwise.
//
// The demo serves plain HTTP on 127.0.0.1 and marks its requests secure, so
// this also checks what the demo relies on: Chromium treats
// http://127.0.0.1 as a secure context, and keeps and sends back the
// `Secure` `__Host-sid` cookie there.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

const COOKIE = '__Host-sid';
// The hardened configuration's idle and absolute timeouts.
const IDLE_S = 30 * 60;
const ABSOLUTE_S = 12 * 60 * 60;
// Expiries are compared with the test's clock: a minute or two either way
// covers a slow run and clock rounding, and still tells 30 minutes from
// anything else the demo could send.
const EXPIRY_SLACK_S = 120;
// Chromium shifts a cookie's expiry by the gap between the response's Date
// header (whole seconds) and its own clock, so two responses naming the
// same Expires can differ by up to a second in the cookie store.
const SAME_EXPIRY_S = 1.5;
// How long two requests are kept apart (at least) where the test tells a
// moving expiry from a fixed one: well beyond SAME_EXPIRY_S.
const APART_MS = 3_500;
// Every wait is bounded so a hung page fails fast instead of stalling CI.
const STEP_TIMEOUT_MS = 10_000;
const WHOLE_RUN_TIMEOUT_MS = 60_000;

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
const host = new URL(home).hostname;

const watchdog = setTimeout(() => {
  console.error(`FAIL: the browser test did not finish within ${WHOLE_RUN_TIMEOUT_MS} ms`);
  process.exit(1);
}, WHOLE_RUN_TIMEOUT_MS);
watchdog.unref();

function step(message) {
  console.log(`ok - ${message}`);
}

const nowS = () => Date.now() / 1000;

/** Waits until at least `ms` have passed since `since` (a Date.now() value). */
async function atLeastSince(since, ms) {
  const left = since + ms - Date.now();
  if (left > 0) {
    await sleep(left);
  }
}

/** The session cookie in a browser context, or undefined. */
async function sessionCookie(context) {
  const cookies = await context.cookies(home);
  return cookies.find((c) => c.name === COOKIE);
}

/** Every cookie named COOKIE in a context, for any URL. */
async function allSessionCookies(context) {
  return (await context.cookies()).filter((c) => c.name === COOKIE);
}

/** The session ID inside a signed cookie value (`s:<id>.<signature>`, URL-encoded). */
function sessionId(value) {
  const decoded = decodeURIComponent(value);
  assert.ok(decoded.startsWith('s:'), `cookie value ${value} is not a signed express cookie`);
  const id = decoded.slice(2, decoded.lastIndexOf('.'));
  assert.ok(id.length > 0, `cookie value ${value} has no session id`);
  return id;
}

/**
 * Plants a cookie value in a context, as an attacker (or a replay) would: a
 * host-only, Secure cookie on the demo's host, which is all a `__Host-`
 * cookie may be.
 */
async function plantCookie(context, value) {
  await context.addCookies([
    { name: COOKIE, value, domain: host, path: '/', secure: true, httpOnly: true, sameSite: 'Lax' },
  ]);
  const planted = await sessionCookie(context);
  assert.equal(planted?.value, value, 'Chromium should accept the planted cookie');
}

async function newPage(browser, userAgent) {
  const context = await browser.newContext(userAgent ? { userAgent } : {});
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
 * one fired its own already. Returns the `Set-Cookie` header values of the
 * response to `path` on the way (the POST's redirect), as the server sent
 * them.
 */
async function submitAndLoad(page, action, path) {
  const loaded = page.waitForEvent('load');
  const answered = path
    ? page.waitForResponse((r) => new URL(r.url()).pathname === path && r.request().method() === 'POST')
    : null;
  await action();
  const response = await answered;
  await loaded;
  if (!response) {
    return [];
  }
  return (await response.headersArray())
    .filter((h) => h.name.toLowerCase() === 'set-cookie')
    .flatMap((h) => h.value.split('\n'));
}

/** A `Set-Cookie` value as { name, value, attributes: Map(lower-case name → value) }. */
function parseSetCookie(header) {
  const [pair, ...parts] = header.split(';').map((p) => p.trim());
  const eq = pair.indexOf('=');
  const attributes = new Map();
  for (const part of parts) {
    const at = part.indexOf('=');
    const name = (at < 0 ? part : part.slice(0, at)).toLowerCase();
    attributes.set(name, at < 0 ? '' : part.slice(at + 1));
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes };
}

/** The one `Set-Cookie` for the session cookie among `headers`. */
function sessionSetCookie(headers, what) {
  const ours = headers.map(parseSetCookie).filter((c) => c.name === COOKIE);
  assert.equal(ours.length, 1, `${what} should send one ${COOKIE} Set-Cookie, got ${JSON.stringify(headers)}`);
  return ours[0];
}

/** Fills in and submits the real sign-in form; returns the sign-in response's Set-Cookie values. */
async function signInWithForm(page, name, remember) {
  await page.locator('#name').fill(name);
  if (remember) {
    await page.locator('#remember').check();
  }
  const setCookies = await submitAndLoad(page, () => page.locator('#signin').click(), '/login');
  assert.equal(await shownUser(page), name, `signing in as ${name} should show the user`);
  return setCookies;
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

/** Asserts that `expires` (Unix seconds) is `lifetime` seconds after [before, after], give or take EXPIRY_SLACK_S. */
function assertExpiresIn(expires, lifetime, before, after, what) {
  assert.ok(
    expires >= before + lifetime - EXPIRY_SLACK_S && expires <= after + lifetime + EXPIRY_SLACK_S,
    `${what} should expire ${lifetime} s from now (±${EXPIRY_SLACK_S} s): expires=${expires}, now≈${Math.round(after)}, ` +
      `off by ${Math.round(expires - after - lifetime)} s`,
  );
}

async function run(browser) {
  // 1. Anonymous visit: saveUninitialized is false, so no cookie yet.
  const alice = await newPage(browser);
  await alice.page.goto(home);
  assert.equal(await shownUser(alice.page), null, 'a first visit should show the sign-in form');
  assert.equal(await sessionCookie(alice.context), undefined, 'an anonymous visit should not set a session cookie (saveUninitialized is false)');
  assert.equal(await alice.page.evaluate(() => window.isSecureContext), true, `Chromium should treat ${home} as a secure context`);
  step('first visit shows the sign-in form, sets no cookie, and the page is a secure context');

  // 2. Sign in without "keep me signed in": the hardened cookie, 30 minutes idle.
  const beforeSignIn = nowS();
  const signInHeaders = await signInWithForm(alice.page, 'Alice', false);
  const afterSignIn = nowS();
  const signedInAt = Date.now();
  assert.equal(await visitsOn(alice.page), 1, 'the first page after sign-in should count visit 1');

  // What the server sent ...
  const sent = sessionSetCookie(signInHeaders, 'sign-in');
  assert.ok(sent.attributes.has('secure'), `the Set-Cookie should be Secure: ${JSON.stringify(signInHeaders)}`);
  assert.ok(sent.attributes.has('httponly'), 'the Set-Cookie should be HttpOnly');
  assert.equal(sent.attributes.get('path'), '/', 'the Set-Cookie should have Path=/');
  assert.equal(sent.attributes.get('samesite')?.toLowerCase(), 'lax', 'the Set-Cookie should have SameSite=Lax');
  assert.ok(!sent.attributes.has('domain'), `the Set-Cookie should have no Domain: ${JSON.stringify(signInHeaders)}`);
  assert.ok(sent.attributes.has('expires'), 'the Set-Cookie should carry an Expires (a persistent cookie)');
  // ... and what Chromium kept: it drops a __Host- cookie that breaks the
  // prefix's rules, and a Secure one from an origin it deems insecure.
  const aliceCookie = await sessionCookie(alice.context);
  assert.ok(aliceCookie, `Chromium should keep the ${COOKIE} cookie set over ${home}`);
  assert.equal(aliceCookie.value, sent.value, 'Chromium should keep the value the server sent');
  assert.equal(aliceCookie.secure, true, 'the session cookie should be Secure');
  assert.equal(aliceCookie.httpOnly, true, 'the session cookie should be HttpOnly');
  assert.equal(aliceCookie.path, '/', 'the session cookie path should be /');
  assert.equal(aliceCookie.sameSite, 'Lax', 'the session cookie should be SameSite=Lax');
  assert.equal(aliceCookie.domain, host, `the session cookie should be host-only (${host}), got domain ${aliceCookie.domain}`);
  assert.ok(aliceCookie.expires > 0, `the session cookie should be persistent, got expires=${aliceCookie.expires}`);
  assertExpiresIn(aliceCookie.expires, IDLE_S, beforeSignIn, afterSignIn, 'the session cookie');
  assert.match(
    await alice.page.locator('#lifetime').textContent(),
    /signed out after 30 minutes without a visit, and at .+ at the latest/,
    'the page should state the 30-minute idle timeout and the 12-hour limit',
  );
  step(`sign-in sets ${COOKIE}: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, persistent, expiring in 30 min (±2 min)`);

  const visibleToScript = await alice.page.evaluate(() => document.cookie);
  assert.ok(!visibleToScript.includes(COOKIE), `document.cookie should not expose the HttpOnly cookie, got "${visibleToScript}"`);
  step('document.cookie does not contain the session cookie');

  // 3. Chromium sends the Secure cookie back to http://127.0.0.1: the session
  // lasts across reloads and navigations.
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

  // 4. "Keep me signed in": the idle lifetime is lifted to the 12-hour
  // absolute timeout, so the cookie expires 12 hours after sign-in and
  // activity no longer moves it. Signed in now, checked again later.
  const rita = await newPage(browser);
  await rita.page.goto(home);
  const beforeRita = nowS();
  const ritaHeaders = await signInWithForm(rita.page, 'Rita', true);
  const afterRita = nowS();
  const ritaSignedInAt = Date.now();
  const ritaSent = sessionSetCookie(ritaHeaders, 'sign-in with "keep me signed in"');
  assert.ok(ritaSent.attributes.has('secure') && !ritaSent.attributes.has('domain'), 'the kept session has the same hardened cookie');
  const kept = await sessionCookie(rita.context);
  assert.ok(kept, 'signing in with "keep me signed in" should set the session cookie');
  assert.equal(kept.secure, true, 'the kept cookie should be Secure');
  assertExpiresIn(kept.expires, ABSOLUTE_S, beforeRita, afterRita, 'with "keep me signed in" the cookie');
  const ritaText = await rita.page.locator('#lifetime').textContent();
  assert.match(ritaText, /stay signed in on this browser, even when idle, until .+ \(12 hours after sign-in\)/, 'the page should say the session lasts until 12 hours after sign-in');
  const shownDeadline = Date.parse(await rita.page.locator('#deadline').textContent()) / 1000;
  assert.ok(
    Math.abs(kept.expires - shownDeadline) <= 2,
    `the cookie should expire when the page says the session ends: expires=${kept.expires}, page says ${shownDeadline}`,
  );
  step('"keep me signed in" sets a cookie expiring in 12 h (±2 min), at the deadline the page shows');

  // 5. Session fixation: a cookie planted before sign-in is not the one after.
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

  // 6. Rolling idle timeout vs. the absolute one, some seconds after both
  // sign-ins: Alice's expiry moves with her activity, Rita's stays at her
  // deadline.
  await atLeastSince(signedInAt, APART_MS);
  const beforeRoll = nowS();
  await alice.page.reload();
  const afterRoll = nowS();
  assert.equal(await visitsOn(alice.page), 5, 'a later reload should count visit 5');
  const aliceRolled = await sessionCookie(alice.context);
  assert.ok(
    aliceRolled && aliceRolled.expires - aliceCookie.expires > SAME_EXPIRY_S,
    `every request should push the 30-minute expiry forward (rolling): was ${aliceCookie.expires}, now ${aliceRolled?.expires}`,
  );
  assertExpiresIn(aliceRolled.expires, IDLE_S, beforeRoll, afterRoll, 'the rolled session cookie');
  await atLeastSince(ritaSignedInAt, APART_MS);
  await rita.page.reload();
  assert.equal(await visitsOn(rita.page), 2, 'the kept session should count visits too');
  const keptLater = await sessionCookie(rita.context);
  assert.ok(keptLater, 'the kept session cookie should still be there');
  assert.equal(keptLater.value, kept.value, 'the kept session should keep its cookie');
  assert.ok(
    Math.abs(keptLater.expires - kept.expires) <= SAME_EXPIRY_S,
    `the 12-hour absolute timeout should hold the kept cookie's expiry at its deadline: was ${kept.expires}, now ${keptLater.expires}`,
  );
  step(`${APART_MS / 1000} s later: the 30-minute expiry rolls forward, the kept one stays at 12 h after sign-in`);

  // A second browser holding a copy of Alice's cookie from before sign-out.
  const aliceAgain = await newPage(browser);
  await plantCookie(aliceAgain.context, aliceCookie.value);
  await aliceAgain.page.goto(home);
  assert.equal(await shownUser(aliceAgain.page), 'Alice', 'a copy of a live cookie should show its user');

  // 7. Sign-out ends the session and removes the cookie from the browser.
  const signOutHeaders = await submitAndLoad(alice.page, () => alice.page.locator('#signout').click(), '/logout');
  assert.equal(await shownUser(alice.page), null, 'signing out should show the sign-in form');
  const cleared = sessionSetCookie(signOutHeaders, 'sign-out');
  assert.equal(cleared.value, '', 'the sign-out Set-Cookie should carry no value');
  assert.ok(
    Date.parse(cleared.attributes.get('expires') ?? '') <= Date.now(),
    `the sign-out Set-Cookie should expire the cookie: ${JSON.stringify(signOutHeaders)}`,
  );
  assert.ok(cleared.attributes.has('secure') && cleared.attributes.get('path') === '/' && !cleared.attributes.has('domain'),
    `the sign-out Set-Cookie must keep the __Host- rules, or Chromium ignores it: ${JSON.stringify(signOutHeaders)}`);
  assert.deepEqual(await allSessionCookies(alice.context), [], 'after sign-out the browser should hold no session cookie at all');
  await alice.page.reload();
  assert.equal(await shownUser(alice.page), null, 'a reload after sign-out should still show the sign-in form');
  assert.deepEqual(await allSessionCookies(alice.context), [], 'a reload after sign-out should not bring a cookie back');
  step('sign-out expires the cookie: Chromium holds no session cookie afterwards');

  // 8. The old cookie cannot be replayed.
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
  step('replaying the signed-out cookie (browser and fetch) shows no user');

  // 9. "Your sessions": context A signs context B out, then everyone else.
  await yourSessions(browser);
}

/** The rows of the loaded "Your sessions" page. */
async function sessionRows(page) {
  return page.locator('tr.session').evaluateAll((rows) =>
    rows.map((row) => ({
      current: row.dataset.current === 'true',
      agent: row.querySelector('.agent').textContent,
      address: row.querySelector('.address').textContent,
      active: row.querySelector('.active').textContent,
    })),
  );
}

async function yourSessions(browser) {
  const agents = { a: 'DemoBrowser-A/1.0', b: 'DemoBrowser-B/2.0', c: 'DemoBrowser-C/3.0' };
  const a = await newPage(browser, agents.a);
  const b = await newPage(browser, agents.b);
  const c = await newPage(browser, agents.c);
  for (const { page } of [a, b, c]) {
    await page.goto(home);
    await signInWithForm(page, 'Grace', false);
  }
  await submitAndLoad(a.page, () => a.page.locator('#your-sessions').click());
  let rows = await sessionRows(a.page);
  assert.equal(rows.length, 3, `A should see three signed-in browsers: ${JSON.stringify(rows)}`);
  assert.deepEqual(rows.map((r) => r.agent).sort(), Object.values(agents).sort(), 'each browser is listed with its user agent');
  assert.deepEqual(rows.filter((r) => r.current).map((r) => r.agent), [agents.a], 'A is marked as this browser');
  for (const row of rows) {
    assert.ok(Math.abs(Date.parse(row.active) / 1000 - nowS()) < EXPIRY_SLACK_S, `last activity is now: ${row.active}`);
    assert.equal(row.address, host, `the address is the loopback client: ${row.address}`);
  }
  await a.page.screenshot({ path: resolve(dirname(screenshotPath), 'demo-your-sessions.png'), fullPage: true });
  step('"Your sessions" lists the three browsers with their user agents, addresses and last activity');

  // A signs B out.
  const bRow = a.page.locator('tr.session', { hasText: agents.b });
  await submitAndLoad(a.page, () => bRow.locator('button.revoke').click(), '/sessions/revoke');
  rows = await sessionRows(a.page);
  assert.deepEqual(rows.map((r) => r.agent).sort(), [agents.a, agents.c].sort(), `B is gone from the list: ${JSON.stringify(rows)}`);
  await b.page.reload();
  assert.equal(await shownUser(b.page), null, 'B, signed out by A, lands on the sign-in page');
  await c.page.reload();
  assert.equal(await shownUser(c.page), 'Grace', 'C is still signed in');
  step('A signs B out: B lands on the sign-in page, C stays');

  // A signs out everywhere else.
  await submitAndLoad(a.page, () => a.page.locator('#revoke-others').click(), '/sessions/revoke-others');
  rows = await sessionRows(a.page);
  assert.deepEqual(rows.map((r) => r.agent), [agents.a], `only A is left: ${JSON.stringify(rows)}`);
  await c.page.reload();
  assert.equal(await shownUser(c.page), null, 'C is signed out by "sign out everywhere else"');
  await a.page.goto(home);
  assert.equal(await shownUser(a.page), 'Grace', 'A stays signed in');
  step('"sign out everywhere else" signs C out and keeps A');
  for (const { context } of [a, b, c]) {
    await context.close();
  }
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
