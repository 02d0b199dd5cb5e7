// express-session 1.19 behind the benchmark routes. STORE: "memory"
// (express-session's MemoryStore) or a redis:// URL (connect-redis with
// node-redis). Options as the Rust servers: resave false,
// saveUninitialized false, cookie maxAge one day, the same secret.
'use strict';

const express = require('express');
const session = require('express-session');

const PORT = Number(process.env.PORT || 3000);
const STORE = process.env.STORE || 'memory';
const SECRET = 'benchmark secret: at least 32 bytes of entropy here';

async function main() {
  let store; // undefined = express-session's MemoryStore
  if (STORE.startsWith('redis')) {
    const { createClient } = require('redis');
    const { RedisStore } = require('connect-redis');
    const client = createClient({ url: STORE });
    client.on('error', (err) => console.error('redis', err));
    await client.connect();
    store = new RedisStore({ client, prefix: 'sess:' });
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(session({
    secret: SECRET,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 24 * 60 * 60 * 1000 },
    store,
  }));
  app.get('/none', (req, res) => res.type('text/plain').send('ok'));
  app.get('/read', (req, res) => res.type('text/plain').send(String(req.session.counter || 0)));
  app.get('/counter', (req, res) => {
    req.session.counter = (req.session.counter || 0) + 1;
    res.type('text/plain').send(String(req.session.counter));
  });

  const server = app.listen(PORT, '127.0.0.1', () => {
    console.log(`listening on 127.0.0.1:${PORT}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
