#!/usr/bin/env node
// Captures what the real express-session, connect-redis and connect-pg-simple
// store, as fixtures for the Rust crates' byte-compatibility tests.
//
// For every scenario it starts an express app on 127.0.0.1 twice, once over
// connect-redis and once over connect-pg-simple, drives it with real HTTP
// requests (Node's fetch), and records after each response: the Set-Cookie
// headers, the session ID, the exact stored value (Redis GET of the key;
// PostgreSQL `sess::text` and `expire` as epoch seconds), the Redis TTL and
// Date.now(). One JSON file per scenario goes to
// crates/server-session/tests/fixtures/express/<scenario>.json.
//
// Environment: REDIS_URL (default redis://127.0.0.1:6379), POSTGRES_URL
// (default postgres://postgres@127.0.0.1:5432/test), FIXTURES_DIR (default
// the directory above). Re-runnable: keys live under a unique prefix and the
// table in a unique schema, both removed at the end, even on failure.
//
//   node capture-fixtures.js                  every scenario
//   node capture-fixtures.js NAME [NAME ...]  only these (the other files stay)
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const { createClient, RESP_TYPES } = require('redis');
const pg = require('pg');
const PgStore = require('connect-pg-simple')(session);

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
const OUT_DIR = path.resolve(
  process.env.FIXTURES_DIR ||
    path.join(__dirname, '..', '..', 'crates', 'server-session', 'tests', 'fixtures', 'express')
);

// A fixed test secret, so that a reader can check the cookie signatures.
const SECRET = 'keyboard cat';
// How long the touch scenarios wait between their two requests, so that the
// touched expiry is visibly later than the stored one.
const TOUCH_DELAY_MS = 2100;

const RUN = `${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
const REDIS_PREFIX = `fixture-${RUN}:`;
const PG_SCHEMA = `fixtures_${RUN.replace(/-/g, '_')}`;
const PG_TABLE = 'session';

// Every scenario: express-session options (the store is added per run), the
// session data the `/set` route assigns, and the requests to send. `/set`
// assigns the data; `/noop` reads the session and changes nothing.
const SCENARIOS = [
  {
    name: 'max_age_60000',
    description: 'A new session with cookie.maxAge 60000 and some data.',
    options: { cookie: { maxAge: 60000 }, resave: false, saveUninitialized: false },
    assign(sess) {
      sess.user = { name: 'bob' };
      sess.n = 1;
    },
    requests: ['/set'],
  },
  {
    name: 'browser_session',
    description: 'A browser-session cookie (no maxAge): expires null, default TTL 86400 s.',
    options: { cookie: {}, resave: false, saveUninitialized: false },
    assign(sess) {
      sess.user = { name: 'alice', roles: ['admin', 'dev'] };
      sess.visits = 3;
    },
    requests: ['/set'],
  },
  {
    name: 'all_attributes_lax',
    description:
      'Every cookie attribute: domain, path, httpOnly false, secure true (https via X-Forwarded-Proto and proxy: true), sameSite "lax", priority "high", partitioned true, maxAge.',
    options: {
      proxy: true,
      cookie: {
        domain: 'example.com',
        path: '/app',
        httpOnly: false,
        secure: true,
        sameSite: 'lax',
        priority: 'high',
        partitioned: true,
        maxAge: 3600000,
      },
      resave: false,
      saveUninitialized: false,
    },
    headers: { 'X-Forwarded-Proto': 'https' },
    assign(sess) {
      sess.user = { name: 'carol' };
    },
    requests: ['/set'],
  },
  {
    name: 'all_attributes_samesite_true',
    description:
      'The same attributes with sameSite true (cookie writes SameSite=Strict; express stores the boolean) and priority "low".',
    options: {
      proxy: true,
      cookie: {
        domain: '.example.org',
        path: '/',
        httpOnly: false,
        secure: true,
        sameSite: true,
        priority: 'low',
        partitioned: true,
        maxAge: 120000,
      },
      resave: false,
      saveUninitialized: false,
    },
    headers: { 'X-Forwarded-Proto': 'https' },
    assign(sess) {
      sess.user = { name: 'dave' };
    },
    requests: ['/set'],
  },
  {
    name: 'samesite_none_secure_auto',
    description:
      'sameSite "none", priority "medium", partitioned false, httpOnly true and secure "auto" over https (stored as true).',
    options: {
      proxy: true,
      cookie: {
        secure: 'auto',
        sameSite: 'none',
        priority: 'medium',
        partitioned: false,
        maxAge: 60000,
      },
      resave: false,
      saveUninitialized: false,
    },
    headers: { 'X-Forwarded-Proto': 'https' },
    assign(sess) {
      sess.flag = true;
    },
    requests: ['/set'],
  },
  {
    name: 'secure_auto_http',
    description: 'secure "auto" over plain http: express stores secure false.',
    options: {
      proxy: true,
      cookie: { secure: 'auto', sameSite: 'strict', maxAge: 60000 },
      resave: false,
      saveUninitialized: false,
    },
    assign(sess) {
      sess.flag = false;
    },
    requests: ['/set'],
  },
  {
    name: 'samesite_priority_mixed_case',
    description:
      'sameSite "Lax" and priority "HIGH": express stores the options as given, cookie 0.7.2 lower-cases them to send SameSite=Lax and Priority=High.',
    options: {
      cookie: { sameSite: 'Lax', priority: 'HIGH', maxAge: 60000 },
      resave: false,
      saveUninitialized: false,
    },
    assign(sess) {
      sess.n = 1;
    },
    requests: ['/set'],
  },
  {
    name: 'samesite_priority_upper_case',
    description:
      'sameSite "NONE" (with secure true over https) and priority "Low", stored as given, sent as SameSite=None and Priority=Low.',
    options: {
      proxy: true,
      cookie: { secure: true, sameSite: 'NONE', priority: 'Low', maxAge: 60000 },
      resave: false,
      saveUninitialized: false,
    },
    headers: { 'X-Forwarded-Proto': 'https' },
    assign(sess) {
      sess.n = 2;
    },
    requests: ['/set'],
  },
  {
    name: 'samesite_false_priority_null',
    description:
      'sameSite false and priority null: no attribute, and express keeps both values in the record.',
    options: {
      cookie: { sameSite: false, priority: null, maxAge: 60000 },
      resave: false,
      saveUninitialized: false,
    },
    assign(sess) {
      sess.n = 3;
    },
    requests: ['/set'],
  },
  {
    name: 'samesite_zero_priority_empty',
    description:
      'sameSite 0 and priority "": falsy, so no attribute; express keeps both values in the record.',
    options: {
      cookie: { sameSite: 0, priority: '', maxAge: 60000 },
      resave: false,
      saveUninitialized: false,
    },
    assign(sess) {
      sess.n = 4;
    },
    requests: ['/set'],
  },
  {
    name: 'unicode',
    description:
      'Unicode keys and values, quotes, backslashes, U+2028/U+2029, control characters, DEL, slashes, an emoji and a surrogate pair.',
    options: { cookie: { maxAge: 60000 }, resave: false, saveUninitialized: false },
    assign(sess) {
      sess['ключ'] = 'значение';
      sess['🔑'] = '🗝️ 鍵';
      sess['quote"key'] = 'say "hi"';
      sess['back\\slash'] = 'C:\\path\\to\\file\\';
      sess['line\u2028sep'] = 'a\u2028b\u2029c';
      sess.controls = '\u0000\u0001\b\t\n\u000b\f\r\u001f\u007f';
      sess.slashes = '</script> // http://x/y';
      sess.mixed = ['ü', 'ß', '中文', '😀', 'e\u0301', '\uFEFF'];
    },
    requests: ['/set'],
  },
  {
    name: 'nested_numbers',
    description:
      'Nested arrays and objects, null, booleans and numbers: integers, 1.5, -0, 1e21, 1e-7, large integers up to and past 2^64, a 17-digit fraction, and what JSON.stringify does to NaN, Infinity, undefined, functions, symbols and a Date.',
    options: { cookie: { maxAge: 60000 }, resave: false, saveUninitialized: false },
    assign(sess) {
      sess.nested = {
        a: [1, [2, [3, [4, []]]], { b: { c: { d: null } } }],
        empty: {},
        t: true,
        f: false,
        nil: null,
      };
      sess.numbers = {
        zero: 0,
        negZero: -0,
        oneAndHalf: 1.5,
        negative: -42,
        tenth: 0.1,
        third: 1 / 3,
        small: 1e-7,
        micro: 0.000001,
        microAndHalf: 0.0000015,
        hundredThousandth: 0.00001,
        tiny: 5e-324,
        maxSafe: 9007199254740991,
        pastSafe: 9007199254740993,
        minSafe: -9007199254740991,
        pow60: 2 ** 60,
        pow63: 2 ** 63,
        pow64: 2 ** 64,
        e20: 1e20,
        negE20: -1e20,
        big: 123456789012345680000,
        e21: 1e21,
        negE21: -1e21,
        e300: 1e300,
        maxValue: Number.MAX_VALUE,
        fraction: 123.456,
        cents: 12345.67,
        // A Math.random() value whose nearest double a parser that is not
        // correctly rounded misses by one ULP.
        random: 0.9613552810955555,
      };
      sess.converted = {
        nan: NaN,
        infinity: Infinity,
        undef: undefined,
        arrayHoles: [undefined, () => 1, Symbol('s')],
        date: new Date(0),
      };
      sess.nothing = null;
      sess.list = [0, -0, 1.5, 1e21, null, 'x', [], {}];
    },
    requests: ['/set'],
  },
  {
    name: 'integer_keys',
    description:
      'Keys that are array indices ("2", "10"): JavaScript orders them before every other key, so they come before "cookie".',
    options: { cookie: { maxAge: 60000 }, resave: false, saveUninitialized: false },
    assign(sess) {
      sess.user = 'erin';
      sess['10'] = 'ten';
      sess['2'] = 'two';
      sess.nested = { b: 1, 1: 'one', a: 2 };
    },
    requests: ['/set'],
  },
  {
    name: 'lone_surrogate',
    description:
      'A string with an unpaired UTF-16 surrogate, as String#slice can leave behind: JSON.stringify writes it as the escape \\ud83d.',
    options: { cookie: { maxAge: 60000 }, resave: false, saveUninitialized: false },
    assign(sess) {
      sess.truncated = '😀'.slice(0, 1);
    },
    requests: ['/set'],
  },
  {
    name: 'touch',
    description:
      'resave false: a second request that changes nothing makes express touch the session (connect-redis EXPIRE, connect-pg-simple UPDATE … expire). The stored value stays the same; only the expiry moves.',
    options: { cookie: { maxAge: 60000 }, resave: false, saveUninitialized: false },
    assign(sess) {
      sess.user = { name: 'bob' };
      sess.n = 1;
    },
    requests: ['/set', '/noop'],
  },
  {
    name: 'touch_browser_session',
    description:
      'A touch of a browser-session record: the TTL goes back to the default 86400 s (connect-pg-simple: now + 86400).',
    options: { cookie: {}, resave: false, saveUninitialized: false },
    assign(sess) {
      sess.n = 7;
    },
    requests: ['/set', '/noop'],
  },
];

// Versions come from the installed packages' package.json files (read from
// disk: some packages do not export their package.json).
function versionOf(...dirs) {
  for (const dir of dirs) {
    const file = path.join(__dirname, 'node_modules', dir, 'package.json');
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  }
  return null;
}

function versions() {
  return {
    node: process.version,
    express: versionOf('express'),
    'express-session': versionOf('express-session'),
    // express-session's own copy of cookie, if npm nested one.
    cookie: versionOf('express-session/node_modules/cookie', 'cookie'),
    'connect-redis': versionOf('connect-redis'),
    redis: versionOf('redis'),
    'connect-pg-simple': versionOf('connect-pg-simple'),
    pg: versionOf('pg'),
  };
}

// The options as written to the fixture: without the store, with the
// defaults this script sets made explicit.
function describedOptions(scenario) {
  return {
    name: 'connect.sid',
    secret: SECRET,
    ...scenario.options,
  };
}

function basePath(scenario) {
  const cookiePath = scenario.options.cookie && scenario.options.cookie.path;
  return cookiePath && cookiePath !== '/' ? cookiePath : '';
}

// Starts an express app with express-session over `store`; resolves to its
// base URL and a function that closes it.
function startApp(scenario, store, touches) {
  const app = express();
  app.use(session({ ...describedOptions(scenario), store }));
  const router = express.Router();
  router.get('/set', (req, res) => {
    scenario.assign(req.session);
    res.json({ id: req.sessionID });
  });
  router.get('/noop', (req, res) => {
    res.json({ id: req.sessionID, n: req.session.n });
  });
  app.use(basePath(scenario) || '/', router);

  // Records the `cookie.expires` express passes to the store's touch, which
  // is the touched expiry (the stored value keeps the old one).
  const touch = store.touch.bind(store);
  store.touch = (sid, sess, cb) => {
    touches.push(sess.cookie.expires ? new Date(sess.cookie.expires).toISOString() : null);
    return touch(sid, sess, cb);
  };

  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}${basePath(scenario)}`,
        close: () => new Promise((done) => server.close(done)),
      });
    });
    server.on('error', reject);
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Sends the scenario's requests, calling `capture(id)` after each response
// for the store-side facts.
async function drive(scenario, store, capture) {
  const touches = [];
  const app = await startApp(scenario, store, touches);
  const steps = [];
  let sessionId = null;
  let cookieHeader = null;
  try {
    for (const [index, route] of scenario.requests.entries()) {
      if (index > 0) await sleep(TOUCH_DELAY_MS);
      const headers = { ...(scenario.headers || {}) };
      if (cookieHeader) headers.Cookie = cookieHeader;
      const touchesBefore = touches.length;
      const requestedAtMs = Date.now();
      const response = await fetch(app.url + route, { headers });
      const body = await response.json();
      const nowMs = Date.now();
      if (response.status !== 200) {
        throw new Error(`${scenario.name} ${route}: HTTP ${response.status}`);
      }
      if (sessionId && body.id !== sessionId) {
        throw new Error(`${scenario.name} ${route}: the session changed`);
      }
      sessionId = body.id;
      const setCookie = response.headers.getSetCookie();
      if (setCookie.length > 0) cookieHeader = setCookie[0].split(';')[0];
      steps.push({
        request: `GET ${basePath(scenario)}${route}`,
        request_headers: headers,
        requested_at_ms: requestedAtMs,
        set_cookie: setCookie,
        touched: touches.length > touchesBefore,
        touch_expires: touches.length > touchesBefore ? touches[touches.length - 1] : null,
        ...(await capture(body.id)),
        now_ms: nowMs,
      });
    }
  } finally {
    await app.close();
  }
  return { session_id: sessionId, steps };
}

async function captureRedis(scenario, client) {
  const store = new RedisStore({ client, prefix: REDIS_PREFIX });
  const raw = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const run = await drive(scenario, store, async (id) => {
    const key = REDIS_PREFIX + id;
    const bytes = await raw.get(key);
    if (!bytes) throw new Error(`${scenario.name}: nothing stored under ${key}`);
    const stored = bytes.toString('utf8');
    if (!Buffer.from(stored, 'utf8').equals(bytes)) {
      throw new Error(`${scenario.name}: the stored value is not valid UTF-8`);
    }
    // TTL right after the response; PTTL for the finer picture.
    const ttl = await client.ttl(key);
    const pttl = await client.pTTL(key);
    return { stored, ttl, pttl };
  });
  return {
    store: 'connect-redis',
    store_options: { prefix: REDIS_PREFIX, ttl: 86400 },
    key: REDIS_PREFIX + run.session_id,
    ...run,
  };
}

async function capturePg(scenario, pool) {
  const store = new PgStore({
    pool,
    schemaName: PG_SCHEMA,
    tableName: PG_TABLE,
    createTableIfMissing: true,
    pruneSessionInterval: false,
  });
  const table = `"${PG_SCHEMA}"."${PG_TABLE}"`;
  const run = await drive(scenario, store, async (id) => {
    const { rows } = await pool.query(
      `SELECT sess::text AS sess, extract(epoch FROM expire)::float8 AS expire, expire::text AS expire_text FROM ${table} WHERE sid = $1`,
      [id]
    );
    if (rows.length !== 1) throw new Error(`${scenario.name}: no row for ${id}`);
    return { stored: rows[0].sess, expire: rows[0].expire, expire_text: rows[0].expire_text };
  });
  await store.close();
  return {
    store: 'connect-pg-simple',
    store_options: {
      schemaName: PG_SCHEMA,
      tableName: PG_TABLE,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    },
    ...run,
  };
}

async function deleteRedisKeys(client) {
  const keys = [];
  for await (const batch of client.scanIterator({ MATCH: `${REDIS_PREFIX}*`, COUNT: 100 })) {
    keys.push(...batch);
  }
  if (keys.length > 0) await client.del(keys);
  return keys.length;
}

async function main() {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const client = createClient({ url: REDIS_URL });
  client.on('error', (error) => console.error('redis:', error.message));
  await client.connect();
  const pool = new pg.Pool({ connectionString: POSTGRES_URL });
  const { rows: tz } = await pool.query('SHOW TimeZone');
  await pool.query(`CREATE SCHEMA "${PG_SCHEMA}"`);
  const written = [];
  try {
    const meta = versions();
    const wanted = process.argv.slice(2);
    const unknown = wanted.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
    if (unknown.length > 0) throw new Error(`unknown scenario: ${unknown.join(', ')}`);
    const chosen = SCENARIOS.filter((scenario) => wanted.length === 0 || wanted.includes(scenario.name));
    for (const scenario of chosen) {
      const fixture = {
        scenario: scenario.name,
        description: scenario.description,
        versions: meta,
        express_options: describedOptions(scenario),
        request_headers: scenario.headers || {},
        assigned: scenario.assign.toString(),
        redis: await captureRedis(scenario, client),
        postgres: { timezone: tz[0].TimeZone, ...(await capturePg(scenario, pool)) },
      };
      const file = path.join(OUT_DIR, `${scenario.name}.json`);
      fs.writeFileSync(file, `${JSON.stringify(fixture, null, 2)}\n`);
      written.push(path.relative(process.cwd(), file));
    }
  } finally {
    const deleted = await deleteRedisKeys(client);
    await pool.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`);
    await pool.end();
    await client.quit();
    console.error(`cleaned up: ${deleted} Redis keys under ${REDIS_PREFIX}, schema ${PG_SCHEMA}`);
  }
  for (const file of written) console.log(`wrote ${file}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
