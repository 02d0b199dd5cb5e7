#!/usr/bin/env node
// The conformance server contract (DESIGN §6) on the real express-session,
// so that the same HTTP requests can be sent to it and to the Rust example
// `conformance_server` and the answers compared.
//
//   PORT=0 SESSION_OPTIONS='{"secret":"keyboard cat","cookie":{"maxAge":60000}}' \
//     node conformance-server.js
//
// - PORT (default 3000; 0 picks a free port). Binds 127.0.0.1 and prints
//   `listening on 127.0.0.1:PORT` once it is ready.
// - SESSION_OPTIONS: a JSON object passed straight to session(), so every
//   option has express's name and express 1.x's default. As in the Rust
//   example, a missing `secret` is `keyboard cat`.
// - SESSION_STORE: `memory` (default, express's MemoryStore), `redis://…`
//   (connect-redis, prefix `sess:`) or `postgres://…` (connect-pg-simple,
//   table `session`, created if missing).
// - The request header `X-Secure: true|false` is express's `req.secure`.
// - SESSION_OPTIONS' `userPath` (server-session's, not express's): on Redis,
//   express's saves keep server-session's per-user index (user-index.js).
//
// Routes (GET, 200, text/plain): /noop, /id, /get/:key, /set/:key/:value,
// /inc/:key, /del/:key, /regenerate, /destroy, /reload, /save, /touch,
// /unset, /maxage/:ms (a number or `null`), /cookie, and /login/:user
// (Passport's sign-in: regenerate, then `passport.user`). Without a session
// (outside the cookie path, or the store not ready) the session routes
// answer `no session`. An unknown path answers 404 with an empty body, as
// axum does, so the path gate can be compared on any path.
'use strict';

const express = require('express');
const session = require('express-session');

function fail(message) {
  process.stderr.write(`conformance-server: ${message}\n`);
  process.exit(2);
}

function parseOptions() {
  const text = process.env.SESSION_OPTIONS;
  if (!text) return {};
  try {
    const options = JSON.parse(text);
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      fail('SESSION_OPTIONS: not a JSON object');
    }
    return options;
  } catch (err) {
    return fail(`SESSION_OPTIONS: ${err.message}`);
  }
}

// The store a URL names, and a function that closes its connection.
async function storeFromUrl(url, userPath) {
  const scheme = url.split('://')[0];
  if (url === 'memory') return { store: undefined, close: async () => {} };
  if (scheme === 'redis' || scheme === 'rediss') {
    const { RedisStore } = require('connect-redis');
    const { createClient } = require('redis');
    const client = createClient({ url });
    client.on('error', (err) => process.stderr.write(`conformance-server: redis: ${err.message}\n`));
    await client.connect();
    let store = new RedisStore({ client, prefix: 'sess:' });
    if (userPath) {
      // server-session's per-user index, kept by express's saves too.
      store = require('./user-index').withUserIndex(store, client, { userPath, prefix: 'sess:' });
    }
    return { store, close: async () => client.destroy() };
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    const pg = require('pg');
    const PgStore = require('connect-pg-simple')(session);
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const store = new PgStore({
      pool,
      tableName: 'session',
      createTableIfMissing: true,
      // Expired rows are invisible to `get` anyway; no background pruning.
      pruneSessionInterval: false,
    });
    // Connect, and create the table if missing, before the first request:
    // any query does both.
    await new Promise((resolve, reject) =>
      store.get('conformance-server-startup-probe', (err) => (err ? reject(err) : resolve()))
    );
    return { store, close: async () => store.close() };
  }
  return fail(`SESSION_STORE: unsupported store URL \`${url}\`: use memory, redis:// or postgres://`);
}

function noSession(req, res) {
  if (req.session) return false;
  res.send('no session');
  return true;
}

function route(app, path, handler) {
  app.get(path, (req, res, next) => {
    if (noSession(req, res)) return;
    try {
      handler(req, res, next);
    } catch (err) {
      next(err);
    }
  });
}

function buildApp(options) {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // `X-Secure: true|false` is express's `req.secure` (a getter on express's
  // request prototype, so it is shadowed by an own property).
  app.use((req, res, next) => {
    Object.defineProperty(req, 'secure', {
      value: req.get('x-secure') === 'true',
      configurable: true,
      enumerable: true,
    });
    res.type('text/plain');
    next();
  });
  app.use(session(options));

  app.get('/noop', (req, res) => res.send('ok'));
  route(app, '/id', (req, res) => res.send(req.sessionID));
  route(app, '/get/:key', (req, res) => {
    const value = req.session[req.params.key];
    const json = JSON.stringify(value);
    res.send(json === undefined ? 'undefined' : json);
  });
  route(app, '/set/:key/:value', (req, res) => {
    req.session[req.params.key] = req.params.value;
    res.send('ok');
  });
  route(app, '/inc/:key', (req, res) => {
    const next = (req.session[req.params.key] || 0) + 1;
    req.session[req.params.key] = next;
    res.send(String(next));
  });
  route(app, '/del/:key', (req, res) => {
    delete req.session[req.params.key];
    res.send('ok');
  });
  route(app, '/regenerate', (req, res, next) => {
    req.session.regenerate((err) => (err ? next(err) : res.send(req.sessionID)));
  });
  route(app, '/destroy', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.send('destroyed')));
  });
  route(app, '/reload', (req, res, next) => {
    req.session.reload((err) => (err ? next(err) : res.send('reloaded')));
  });
  route(app, '/save', (req, res, next) => {
    req.session.save((err) => (err ? next(err) : res.send('saved')));
  });
  route(app, '/touch', (req, res) => {
    req.session.touch();
    res.send('touched');
  });
  route(app, '/unset', (req, res) => {
    req.session = null;
    res.send('unset');
  });
  route(app, '/maxage/:ms', (req, res) => {
    const text = req.params.ms;
    if (text === 'null') {
      req.session.cookie.maxAge = null;
    } else if (/^-?[0-9]+$/.test(text) && Number.isSafeInteger(Number(text))) {
      req.session.cookie.maxAge = Number(text);
    } else {
      res.status(400).send(`invalid maxage \`${text}\``);
      return;
    }
    res.send('ok');
  });
  route(app, '/cookie', (req, res) => res.send(JSON.stringify(req.session.cookie)));
  // What Passport's `req.login(user)` does (0.6+): a new session, then the
  // user under `passport.user`. A decimal user becomes a number, as a
  // `serializeUser` returning a numeric database ID stores it.
  route(app, '/login/:user', (req, res, next) => {
    const user = /^[0-9]{1,15}$/.test(req.params.user) ? Number(req.params.user) : req.params.user;
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.passport = { user };
      res.send(req.sessionID);
    });
  });

  // axum's answers for an unknown path and for an error, so that only the
  // session behaviour differs between the two servers.
  app.use((req, res) => {
    res.removeHeader('Content-Type');
    res.status(404).end();
  });
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    res.status(err.status || err.statusCode || 500).type('text/plain').send(err.message || String(err));
  });
  return app;
}

async function main() {
  const options = parseOptions();
  if (options.secret === undefined) options.secret = 'keyboard cat';
  // `userPath` is server-session's, not express's: on Redis it turns on the
  // user index writer (user-index.js); express-session never sees it.
  const userPath = options.userPath;
  delete options.userPath;
  const { store, close } = await storeFromUrl(process.env.SESSION_STORE || 'memory', userPath);
  if (store) options.store = store;

  const app = buildApp(options);
  const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT: invalid \`${process.env.PORT}\``);
  const server = app.listen(port, '127.0.0.1', () => {
    process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
  });
  server.on('error', (err) => fail(`bind 127.0.0.1:${port}: ${err.message}`));

  const stop = () => {
    server.close();
    close().finally(() => process.exit(0));
    // Open keep-alive connections must not hold the process.
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
