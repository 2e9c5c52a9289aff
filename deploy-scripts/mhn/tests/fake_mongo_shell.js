// A stand-in for the MongoDB shell (no MongoDB server or shell installs from the package
// registries here), for the tests of subscribe.sh and subscribe.js: it takes the shell's
// arguments (--quiet, a URL, --eval CODE, script files), runs CODE and the scripts in one global
// context as the shell does, with `db`, `print` and `quit`, over an auth_key collection kept in
// the JSON file named by FAKE_MONGO_STATE: {"style": "legacy" or "mongosh", "auth_key": [...]}.
// Its update() knows only what subscribe.js may use: a match on `identifier` and $addToSet.
'use strict';
const fs = require('fs');
const vm = require('vm');

const statePath = process.env.FAKE_MONGO_STATE;
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
state.calls = state.calls || [];

function update(query, change, options) {
  state.calls.push({ query, change, options: options || null });
  const keys = Object.keys(query);
  if (keys.length !== 1 || keys[0] !== 'identifier' || typeof query.identifier !== 'string') {
    throw new Error('fake mongo: unexpected query ' + JSON.stringify(query));
  }
  if (Object.keys(change).join() !== '$addToSet' || options !== undefined) {
    throw new Error('fake mongo: only $addToSet without options, got ' + JSON.stringify(change));
  }
  let matched = 0;
  let modified = 0;
  for (const doc of state.auth_key) {
    if (doc.identifier !== query.identifier) continue;
    matched += 1;
    for (const [field, value] of Object.entries(change.$addToSet)) {
      doc[field] = doc[field] || [];
      if (!doc[field].includes(value)) {
        doc[field].push(value);
        modified += 1;
      }
    }
    break; // update() without multi changes one document
  }
  return state.style === 'mongosh'
    ? { acknowledged: true, matchedCount: matched, modifiedCount: modified, upsertedCount: 0 }
    : { nMatched: matched, nUpserted: 0, nModified: modified };
}

const db = {
  getSiblingDB(name) {
    if (name !== 'hpfeeds') throw new Error('fake mongo: database ' + name);
    return {
      getCollection(collection) {
        if (collection !== 'auth_key') throw new Error('fake mongo: collection ' + collection);
        return { update };
      },
    };
  },
};

class Quit extends Error {
  constructor(code) { super('quit'); this.code = code; }
}

const args = process.argv.slice(2);
const scripts = [];
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--eval') scripts.push(args[(i += 1)]);
  else if (args[i].endsWith('.js')) scripts.push(fs.readFileSync(args[i], 'utf8'));
}
const context = vm.createContext({
  db,
  print: (...parts) => console.log(parts.join(' ')),
  quit: (code) => { throw new Quit(code || 0); },
});
let code = 0;
try {
  for (const script of scripts) vm.runInContext(script, context);
} catch (err) {
  if (!(err instanceof Quit)) throw err;
  code = err.code;
}
state.args = args;
fs.writeFileSync(statePath, JSON.stringify(state));
process.exit(code);
