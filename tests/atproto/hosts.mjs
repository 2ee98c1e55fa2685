// A --import hook for the PDS's Node process: the names in PASSERELLE_HOSTS (a JSON object,
// name to IPv4 address) resolve to those addresses, as if public DNS said so, so that the PDS
// can fetch a confidential client's metadata from a public-looking https name served on
// loopback. Every other name resolves as usual. The test CA comes with NODE_EXTRA_CA_CERTS.
import dns from "node:dns";

const hosts = JSON.parse(process.env.PASSERELLE_HOSTS ?? "{}");
const lookup = dns.lookup;
const lookupAsync = dns.promises.lookup;

function mapped(name, options) {
  const address = hosts[String(name).toLowerCase()];
  if (address === undefined) return null;
  const all = typeof options === "object" && options !== null && options.all;
  return all ? [{ address, family: 4 }] : { address, family: 4 };
}

dns.lookup = function (name, options, callback) {
  const cb = typeof options === "function" ? options : callback;
  const m = mapped(name, options);
  if (m === null) return lookup.call(this, name, options, callback);
  process.nextTick(() => (Array.isArray(m) ? cb(null, m) : cb(null, m.address, m.family)));
  return {};
};
dns.promises.lookup = async function (name, options) {
  const m = mapped(name, options);
  return m === null ? lookupAsync.call(this, name, options) : m;
};
