// The link page's own texts (the T, XT and BT tables of server/site/assets/link.js, CT of
// contacts.js): every
// language the page offers has every key of English, each with the same {placeholders}, no
// empty text, and a button of the language switch in link.html. The tables are read from the
// file as served (no export needed: they are plain object literals).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { fileURLToPath } from "node:url";
import { test } from "../lib/harness.mjs";

const ASSETS = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../server/site/assets");
const js = readFileSync(path.join(ASSETS, "link.js"), "utf8") + readFileSync(path.join(ASSETS, "contacts.js"), "utf8");
const html = readFileSync(path.join(ASSETS, "link.html"), "utf8");
const OFFERED = ["en", "fr", "de", "es", "it", "pt", "nl"];

// The object literal "const NAME = {...};" of link.js, evaluated on its own.
function table(name) {
  const start = js.indexOf(`\nconst ${name} = {\n`);
  assert.ok(start >= 0, `link.js or contacts.js declares ${name}`);
  const end = js.indexOf("\n};\n", start);
  return vm.runInNewContext(`(${js.slice(js.indexOf("{", start), end + 2)})`);
}
const placeholders = (text) => [...text.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]).sort();

for (const name of ["T", "XT", "BT", "CT"]) {
  test(`${name}: the seven languages, every English key with its placeholders`, () => {
    const t = table(name);
    assert.deepEqual(Object.keys(t).sort(), [...OFFERED].sort(), "exactly the languages offered");
    const keys = Object.keys(t.en);
    assert.ok(keys.length > (name === "BT" ? 1 : 10), `${keys.length} keys`);
    for (const l of OFFERED) {
      assert.deepEqual(Object.keys(t[l]).sort(), [...keys].sort(), `${l}: the keys of English`);
      for (const k of keys) {
        assert.equal(typeof t[l][k], "string", `${l}.${k}`);
        assert.ok(t[l][k].trim() !== "", `${l}.${k} is not empty`);
        assert.deepEqual(placeholders(t[l][k]), placeholders(t.en[k]), `${l}.${k} keeps English's placeholders`);
        assert.equal(t[l][k].replace(/\{[a-z_]+\}/g, "").includes("{"), false, `${l}.${k}: no stray {`);
      }
    }
  });
}

test("link.html: a switch button and a no-JavaScript notice for each language", () => {
  for (const l of OFFERED) {
    assert.match(html, new RegExp(`<button type="button" data-lang="${l}" lang="${l}"`), `${l}: a button`);
    if (l !== "en") assert.match(html, new RegExp(`<p class="notice" lang="${l}">`), `${l}: a notice`);
  }
});
