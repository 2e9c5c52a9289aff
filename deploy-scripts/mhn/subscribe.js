// Lets the hpfeeds idents that consume sensors' events read recce7.events: adds the channel to
// their subscribe lists in the broker's auth store (MongoDB database `hpfeeds`, collection
// `auth_key`, documents {identifier, secret, publish, subscribe}), as MHN and CHN keep it.
// Idempotent ($addToSet): run it as often as you like. subscribe.sh runs it:
//
//   mongosh --quiet --eval "var idents = ['mnemosyne', 'geoloc']" subscribe.js
//   mongo hpfeeds subscribe.js                   (MHN's older shell; the defaults below)
//
// `channel` and `idents` set before this file (--eval) replace the defaults. Exits 1, after
// updating the others, when an ident has no authkey (a consumer that is not installed).

var channel = typeof channel === 'string' ? channel : 'recce7.events';
var idents = typeof idents === 'object' && idents !== null ? idents : ['mnemosyne', 'geoloc'];
var authKeys = db.getSiblingDB('hpfeeds').getCollection('auth_key');
var missing = [];

idents.forEach(function (ident) {
  var result = authKeys.update({ identifier: ident }, { $addToSet: { subscribe: channel } });
  // The legacy shell answers a WriteResult (nMatched, nModified), mongosh an UpdateResult.
  var matched = result.nMatched !== undefined ? result.nMatched : result.matchedCount;
  var modified = result.nModified !== undefined ? result.nModified : result.modifiedCount;
  if (!matched) {
    missing.push(ident);
    print('hpfeeds ident ' + ident + ': no authkey (is it installed?), left out');
  } else {
    print('hpfeeds ident ' + ident + ': ' + (modified ? 'now subscribes to ' : 'already subscribes to ') + channel);
  }
});

if (missing.length > 0) {
  quit(1);
}
