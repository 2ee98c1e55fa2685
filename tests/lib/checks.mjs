// Shared assertions and parsers for the integration tests.
import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { mediaType } from "./http.mjs";

export const AS = "https://www.w3.org/ns/activitystreams";
export const SEC = "https://w3id.org/security/v1";

// The version in the Makefile (the binary is built with -DPASSERELLE_VERSION from it).
export function makefileVersion() {
  const mk = readFileSync(new URL("../../Makefile", import.meta.url), "utf8");
  const m = /^VERSION\s*:?=\s*(\S+)/m.exec(mk);
  assert.ok(m, "VERSION not found in Makefile");
  return m[1];
}

// An error reply: the status, a JSON content type and {"error": non-empty string}.
export function assertJsonError(r, status, what = "") {
  assert.equal(r.status, status, `${what}: expected ${status}, got ${r.status}: ${r.body.slice(0, 200)}`);
  assert.equal(mediaType(r.headers["content-type"]), "application/json", `${what}: error content type`);
  const j = r.json();
  assert.equal(typeof j.error, "string", `${what}: error body ${r.body.slice(0, 200)}`);
  assert.ok(j.error.length > 0, `${what}: empty error message`);
  return j;
}

export function assertActivityJson(r, what = "") {
  assert.equal(r.status, 200, `${what}: status ${r.status}: ${r.body.slice(0, 200)}`);
  assert.equal(mediaType(r.headers["content-type"]), "application/activity+json", `${what}: content type ${r.headers["content-type"]}`);
  return r.json();
}

// DER of a SubjectPublicKeyInfo PEM (so that line wrapping does not matter), and its size.
export function spki(pem) {
  const key = createPublicKey(pem);
  return {
    der: key.export({ type: "spki", format: "der" }).toString("base64"),
    type: key.asymmetricKeyType,
    bits: key.asymmetricKeyDetails?.modulusLength,
  };
}

// Prometheus text format: {types: {name: type}, samples: [{name, labels, value}]}.
export function parseMetrics(text) {
  const types = {};
  const helps = {};
  const samples = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m;
    if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      types[m[1]] = m[2];
      continue;
    }
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) {
      helps[m[1]] = m[2];
      continue;
    }
    if (line.startsWith("#")) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/.exec(line);
    if (!m) throw new Error(`bad metrics line: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/g;
      let l;
      let consumed = 0;
      while ((l = re.exec(m[3])) !== null) {
        labels[l[1]] = l[2];
        consumed = re.lastIndex;
      }
      if (consumed !== m[3].length) throw new Error(`bad labels in metrics line: ${JSON.stringify(line)}`);
    }
    const value = Number(m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : m[4]);
    if (Number.isNaN(value) && m[4] !== "NaN") throw new Error(`bad value in metrics line: ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels, value });
  }
  return { types, helps, samples };
}

export function metricSum(parsed, name, filter = () => true) {
  return parsed.samples.filter((s) => s.name === name && filter(s.labels)).reduce((a, s) => a + s.value, 0);
}

export function metricValues(parsed, name) {
  return parsed.samples.filter((s) => s.name === name);
}

// An absolute http(s) URL under base.
export function assertUnder(url, base, what) {
  assert.equal(typeof url, "string", `${what} is not a string: ${JSON.stringify(url)}`);
  assert.ok(url.startsWith(base + "/"), `${what} ${url} is not under ${base}/`);
}
