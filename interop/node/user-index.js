// Keeps server-session's per-user index on Redis complete when a Node app
// shares the store: connect-redis writes no index, so a user who signs in
// through express would be missing from `UserSessions` listings (and from
// "sign out everywhere") until an admin job (`RedisStore::
// index_existing_sessions`) ran.
//
//   const { RedisStore } = require('connect-redis');
//   const { withUserIndex } = require('./user-index');
//   const store = withUserIndex(new RedisStore({ client, prefix: 'sess:' }), client, {
//     userPath: 'passport.user',
//     prefix: 'sess:',
//   });
//
// Each save of a session that holds a user at `userPath` first adds its ID
// to the sorted set `<prefix>user:<user>` (score: the time, in ms; `NX`, so
// an entry keeps its first time), then saves as connect-redis does: the
// same order as the Rust layer, so the index never misses a stored
// session. It costs one more Redis call per save of a signed-in session.
'use strict';

/** The user ID at the dotted `path` of `sess`, as server-session reads it. */
function userAt(sess, path) {
  let value = sess;
  for (const segment of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = value[segment];
  }
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function withUserIndex(store, client, { userPath = 'passport.user', prefix = 'sess:' } = {}) {
  const set = store.set.bind(store);
  store.set = (sid, sess, callback) => {
    const user = userAt(sess, userPath);
    if (user === undefined) return set(sid, sess, callback);
    const indexed = client.zAdd(`${prefix}user:${user}`, { score: Date.now(), value: sid }, { NX: true });
    const saved = indexed.then(() => set(sid, sess));
    if (callback) {
      saved.then((result) => callback(null, result), (err) => callback(err));
      return undefined;
    }
    return saved;
  };
  return store;
}

module.exports = { withUserIndex, userAt };
