// The link page: opens an X archive in the browser, shows what it holds, sends only the
// lists passerelle needs (account, manifest, followers, following), and saves the consents.
// Plain JS, no library, no build step; every string is in T, in English and French.
"use strict";

const T = {
  en: {
    title: "Link your X archive",
    intro:
      "passerelle helps you find the people you knew on X once they are on the fediverse too. " +
      "Your archive is opened here, on your own device: only your follower lists are sent.",
    member: "Fediverse account: {member}",
    langLabel: "Language",
    step1: "Your X archive",
    pickHelp:
      "Choose the .zip file X sent you (Settings, Your account, Download an archive of your " +
      "data). Its account.js, follower.js and following.js files work too.",
    pickLabel: "Choose your archive",
    dropHint: "or drop it anywhere on this page",
    reading: "Reading your archive…",
    found: "Found in your archive",
    handle: "X account",
    followers: "Followers",
    following: "Following",
    count: "{n}",
    manifestOk: "These numbers match the archive's own index.",
    manifestNone:
      "The archive's index (manifest.js) is not here, so these numbers could not be cross-checked.",
    privacy:
      "Only these lists will be sent: your X handle and account number, and the account numbers " +
      "of your followers and of the accounts you follow. Your e-mail address, posts, messages " +
      "and media stay on this device.",
    send: "Send these lists",
    sending: "Sending… {pct} %",
    processing: "Sent. passerelle is reading the lists…",
    sent: "Done. passerelle linked {handle}: {followers} followers, {following} following.",
    linked:
      "Already linked: {handle} ({followers} followers, {following} following). Sending a newer " +
      "archive replaces these lists.",
    notZip: "This file is not a .zip archive. Choose the .zip file X sent you, or its .js files.",
    notX: "This does not look like an X archive: there is no data/account.js in it.",
    noLists:
      "This archive has no follower lists (data/follower.js and data/following.js). " +
      "Ask X for your full archive again.",
    looseNoAccount:
      "Add account.js as well: it tells passerelle which X account these lists belong to.",
    zipAndFiles: "Choose either the .zip alone, or its .js files, not both.",
    incomplete: "Some parts of the lists are missing: {files}. Choose them too, or the whole .zip.",
    mismatchFollower:
      "The archive's index announces {expected} followers but the lists hold {found}. " +
      "The archive may be damaged; download it again from X.",
    mismatchFollowing:
      "The archive's index announces {expected} followed accounts but the lists hold {found}. " +
      "The archive may be damaged; download it again from X.",
    mixed: "These files come from two different X accounts.",
    tooLarge:
      "This is too large to send ({size}). Follower lists are normally much smaller: " +
      "is this the right archive?",
    damaged: "This archive is damaged and cannot be read. Download it again from X.",
    encrypted: "This archive is protected by a password. Use the archive exactly as X sent it.",
    unsupported:
      "This archive is compressed in a way the browser cannot open. Use the archive exactly " +
      "as X sent it.",
    oldBrowser: "This browser cannot open archives. Please use a recent Firefox, Chrome or Safari.",
    expired:
      "This link has expired or was already used. Send “link” to {bridge} in a direct message " +
      "to get a new one.",
    stateFailed:
      "passerelle cannot be reached right now. You can still check your archive; sending " +
      "needs the connection.",
    noSession:
      "To send anything, this page needs the link passerelle sent you. Open that link again, " +
      "or send “link” to {bridge} for a new one.",
    tooLargeServer: "passerelle refused these lists: they are larger than this server accepts.",
    refused: "passerelle refused these lists: {reason}",
    sendFailed: "Sending failed (error {status}). Please try again.",
    network: "The connection was lost. Please try again.",
    step2: "What you allow",
    consentsHelp: "Each choice can be changed at any time, here or by a message to {bridge}.",
    findable: "People can find me by my old X handle",
    findableHelp: "Someone who looks up your old X handle on passerelle is shown your new address.",
    notify: "Tell me when people I knew arrive",
    notifyHelp:
      "A direct message when people you followed, or who followed you, on X arrive here; " +
      "at most one a day.",
    autofollow: "Follow them for me",
    autofollowHelp:
      "passerelle follows the people you followed on X once they arrive and allow it, in your " +
      "name and through your own server. Your server asks you to authorise this first.",
    relay: "Relay my public posts",
    relayHelp:
      "Your public posts are passed on to the servers where your former X followers now live, " +
      "so they can see them.",
    save: "Save my choices",
    saving: "Saving…",
    saved: "Saved.",
    saveFailed: "Your choices could not be saved (error {status}). Please try again.",
    step3: "Following for you",
    connect: "Connect your server to follow for you",
    revoke: "Disconnect my server",
    connectOff:
      "This bridge cannot follow in your name: its administrator has not set it up. The " +
      "list below still lets you follow them yourself.",
    notConnected:
      "Your server is not connected yet. Connecting it lets passerelle follow, in your name, " +
      "the people you followed on X as they arrive. Your server will ask you to confirm.",
    connected:
      "Connected to {host}. Follows made: {done}; waiting: {waiting}; could not be made: " +
      "{failed}.",
    connecting: "Opening your server…",
    connectFailed: "Your server could not be reached: {reason}",
    revoked: "Disconnected. Nothing more will be followed in your name.",
    revokeFailed: "Disconnecting failed (error {status}). Please try again.",
    oauth_granted: "Your server is connected: passerelle will follow for you.",
    oauth_denied: "You refused on your server, so nothing was connected.",
    oauth_invalid:
      "This authorisation did not start on this page, or was already used. Please try again.",
    oauth_expired: "The authorisation took too long. Please try again.",
    oauth_failed: "Your server did not give passerelle access. Please try again later.",
    oauth_wrong_account:
      "Your server gave access to another account than {member}, so nothing was kept.",
    oauth_off: "This bridge cannot follow in your name.",
    csvIntro: "Prefer to follow them yourself?",
    csvLink: "Download the list of people found (Mastodon's import format)",
  },
  fr: {
    title: "Reliez votre archive X",
    intro:
      "passerelle vous aide à retrouver les personnes que vous connaissiez sur X quand elles " +
      "arrivent elles aussi sur le fédivers. Votre archive est ouverte ici, sur votre appareil\u00a0: " +
      "seules vos listes d'abonnements sont envoyées.",
    member: "Compte du fédivers\u00a0: {member}",
    langLabel: "Langue",
    step1: "Votre archive X",
    pickHelp:
      "Choisissez le fichier .zip que X vous a envoyé (Paramètres, Votre compte, Télécharger " +
      "une archive de vos données). Ses fichiers account.js, follower.js et following.js " +
      "conviennent aussi.",
    pickLabel: "Choisir votre archive",
    dropHint: "ou déposez-la n'importe où sur cette page",
    reading: "Lecture de votre archive…",
    found: "Trouvé dans votre archive",
    handle: "Compte X",
    followers: "Abonnés",
    following: "Abonnements",
    count: "{n}",
    manifestOk: "Ces nombres correspondent à l'index de l'archive.",
    manifestNone:
      "L'index de l'archive (manifest.js) n'est pas là\u00a0: ces nombres n'ont pas pu être vérifiés.",
    privacy:
      "Seules ces listes seront envoyées\u00a0: votre nom X et votre numéro de compte, et les " +
      "numéros de compte de vos abonnés et de vos abonnements. Votre adresse e-mail, vos " +
      "messages, publications et médias restent sur cet appareil.",
    send: "Envoyer ces listes",
    sending: "Envoi… {pct}\u00a0%",
    processing: "Envoyé. passerelle lit les listes…",
    sent: "C'est fait. passerelle a relié {handle}\u00a0: {followers} abonnés, {following} abonnements.",
    linked:
      "Déjà relié\u00a0: {handle} ({followers} abonnés, {following} abonnements). Envoyer une " +
      "archive plus récente remplace ces listes.",
    notZip:
      "Ce fichier n'est pas une archive .zip. Choisissez le fichier .zip que X vous a envoyé, " +
      "ou ses fichiers .js.",
    notX: "Ceci ne ressemble pas à une archive X\u00a0: il n'y a pas de data/account.js dedans.",
    noLists:
      "Cette archive ne contient pas de listes d'abonnés (data/follower.js et " +
      "data/following.js). Redemandez votre archive complète à X.",
    looseNoAccount:
      "Ajoutez aussi account.js\u00a0: il indique à passerelle à quel compte X ces listes appartiennent.",
    zipAndFiles: "Choisissez soit le .zip seul, soit ses fichiers .js, pas les deux.",
    incomplete:
      "Il manque des parties des listes\u00a0: {files}. Choisissez-les aussi, ou le .zip entier.",
    mismatchFollower:
      "L'index de l'archive annonce {expected} abonnés mais les listes en contiennent {found}. " +
      "L'archive est peut-être abîmée\u00a0; téléchargez-la de nouveau depuis X.",
    mismatchFollowing:
      "L'index de l'archive annonce {expected} abonnements mais les listes en contiennent " +
      "{found}. L'archive est peut-être abîmée\u00a0; téléchargez-la de nouveau depuis X.",
    mixed: "Ces fichiers viennent de deux comptes X différents.",
    tooLarge:
      "C'est trop gros pour être envoyé ({size}). Les listes d'abonnés sont d'habitude bien " +
      "plus petites\u00a0: est-ce la bonne archive\u00a0?",
    damaged: "Cette archive est abîmée et ne peut pas être lue. Téléchargez-la de nouveau depuis X.",
    encrypted:
      "Cette archive est protégée par un mot de passe. Utilisez l'archive telle que X l'a envoyée.",
    unsupported:
      "Cette archive est compressée d'une façon que le navigateur ne sait pas ouvrir. " +
      "Utilisez l'archive telle que X l'a envoyée.",
    oldBrowser:
      "Ce navigateur ne sait pas ouvrir les archives. Utilisez un Firefox, Chrome ou Safari récent.",
    expired:
      "Ce lien a expiré ou a déjà servi. Envoyez «\u00a0link\u00a0» à {bridge} en message direct " +
      "pour en recevoir un nouveau.",
    stateFailed:
      "passerelle est injoignable pour le moment. Vous pouvez quand même vérifier votre " +
      "archive\u00a0; l'envoi aura besoin de la connexion.",
    noSession:
      "Pour envoyer quoi que ce soit, cette page a besoin du lien que passerelle vous a " +
      "envoyé. Rouvrez ce lien, ou envoyez «\u00a0link\u00a0» à {bridge} pour en recevoir un nouveau.",
    tooLargeServer:
      "passerelle a refusé ces listes\u00a0: elles dépassent ce que ce serveur accepte.",
    refused: "passerelle a refusé ces listes\u00a0: {reason}",
    sendFailed: "L'envoi a échoué (erreur {status}). Réessayez.",
    network: "La connexion a été perdue. Réessayez.",
    step2: "Ce que vous autorisez",
    consentsHelp:
      "Chaque choix se change à tout moment, ici ou par un message à {bridge}.",
    findable: "On peut me trouver par mon ancien nom X",
    findableHelp:
      "Qui cherche votre ancien nom X sur passerelle voit votre nouvelle adresse.",
    notify: "Prévenez-moi quand des personnes que je connaissais arrivent",
    notifyHelp:
      "Un message direct quand des personnes que vous suiviez, ou qui vous suivaient, sur X " +
      "arrivent ici\u00a0; au plus un par jour.",
    autofollow: "Suivez-les pour moi",
    autofollowHelp:
      "passerelle suit les personnes que vous suiviez sur X dès qu'elles arrivent et " +
      "l'acceptent, en votre nom et par votre propre serveur. Votre serveur vous demande " +
      "d'abord de l'autoriser.",
    relay: "Relayez mes publications publiques",
    relayHelp:
      "Vos publications publiques sont transmises aux serveurs où vivent maintenant vos " +
      "anciens abonnés X, pour qu'ils puissent les voir.",
    save: "Enregistrer mes choix",
    saving: "Enregistrement…",
    saved: "Enregistré.",
    saveFailed: "Vos choix n'ont pas pu être enregistrés (erreur {status}). Réessayez.",
    step3: "Suivre pour vous",
    connect: "Connecter votre serveur pour suivre à votre place",
    revoke: "Déconnecter mon serveur",
    connectOff:
      "Cette passerelle ne peut pas suivre en votre nom\u00a0: son administrateur ne l'a pas " +
      "configurée. La liste ci-dessous vous permet quand même de les suivre vous-même.",
    notConnected:
      "Votre serveur n'est pas encore connecté. En le connectant, vous laissez passerelle " +
      "suivre en votre nom les personnes que vous suiviez sur X, à mesure qu'elles arrivent. " +
      "Votre serveur vous demandera de confirmer.",
    connected:
      "Connecté à {host}. Abonnements faits\u00a0: {done}\u00a0; en attente\u00a0: {waiting}\u00a0; " +
      "impossibles\u00a0: {failed}.",
    connecting: "Ouverture de votre serveur…",
    connectFailed: "Votre serveur n'a pas pu être joint\u00a0: {reason}",
    revoked: "Déconnecté. Plus rien ne sera suivi en votre nom.",
    revokeFailed: "La déconnexion a échoué (erreur {status}). Réessayez.",
    oauth_granted: "Votre serveur est connecté\u00a0: passerelle suivra pour vous.",
    oauth_denied: "Vous avez refusé sur votre serveur\u00a0: rien n'a été connecté.",
    oauth_invalid:
      "Cette autorisation n'a pas commencé sur cette page, ou a déjà servi. Réessayez.",
    oauth_expired: "L'autorisation a pris trop de temps. Réessayez.",
    oauth_failed: "Votre serveur n'a pas donné accès à passerelle. Réessayez plus tard.",
    oauth_wrong_account:
      "Votre serveur a donné accès à un autre compte que {member}\u00a0: rien n'a été gardé.",
    oauth_off: "Cette passerelle ne peut pas suivre en votre nom.",
    csvIntro: "Vous préférez les suivre vous-même\u00a0?",
    csvLink: "Télécharger la liste des personnes retrouvées (format d'import de Mastodon)",
  },
};

// The files passerelle needs, wherever the archive keeps its data/ folder.
const ZIP_NAME = /(?:^|\/)data\/((?:account|manifest|follower|following)(?:-part\d+)?\.js)$/;
const LOOSE_NAME = /^((?:account|manifest|follower|following)(?:-part\d+)?\.js)$/;
// Large enough for a few million edges; the media (gigabytes) are never read.
const LIMIT_SEND = 512 * 1024 * 1024;
const LIMIT_DIRECTORY = 64 * 1024 * 1024;
const CONSENTS = ["findable", "notify", "autofollow", "relay"];
const CONSENT_DEFAULTS = { findable: true, notify: true, autofollow: false, relay: false };

const $ = (id) => document.getElementById(id);
let lang = (navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en";
let langChosen = false; // once the person picks a language, the server's guess no longer applies
let state = null; // GET /link/state, once loaded
// ?oauth=RESULT: how the authorisation on the member's server ended (the callback says so).
const OAUTH_RESULTS = ["granted", "denied", "invalid", "expired", "failed", "wrong_account", "off"];
const oauthResult = new URLSearchParams(location.search).get("oauth");
let picked = null; // what the chosen archive holds, ready to send
let generation = 0; // each pick gets a number, so a slow earlier read cannot overwrite a later one
const shown = new Map(); // element -> {key, params}: re-rendered when the language changes

class PageError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.key = key;
    this.params = params;
  }
}

// ---- words -------------------------------------------------------------------------------

function t(key, params = {}) {
  const text = T[lang][key] ?? T.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => {
    const v = params[name];
    if (typeof v === "function") return v();
    if (typeof v === "number") return new Intl.NumberFormat(lang).format(v);
    return String(v ?? "");
  });
}

// Says a message in el (or clears it with key null); it follows later language switches.
function say(el, key, params = {}) {
  if (key == null) shown.delete(el);
  else shown.set(el, { key, params });
  el.textContent = key == null ? "" : t(key, params);
}

function sizeText(bytes) {
  const [unit, n] = bytes >= 1e9 ? ["gigabyte", bytes / 1e9] : ["megabyte", bytes / 1e6];
  return new Intl.NumberFormat(lang, { style: "unit", unit, maximumFractionDigits: 1 }).format(n);
}

function bridge() {
  return state?.bridge || `@passerelle@${location.host}`;
}

function render() {
  document.documentElement.lang = lang;
  document.title = `${t("title")} · passerelle`;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  $("lang-group").setAttribute("aria-label", t("langLabel"));
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  }
  for (const [el, m] of shown) el.textContent = t(m.key, m.params);
}

// ---- zip reading -------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function bytesAt(file, start, end) {
  return new Uint8Array(await file.slice(start, end).arrayBuffer());
}

// Little-endian readers over a byte array; a read past its end is a damaged archive.
function le(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = (o, n) => {
    if (o < 0 || o + n > bytes.length) throw new PageError("damaged");
    return o;
  };
  return {
    u16: (o) => dv.getUint16(at(o, 2), true),
    u32: (o) => dv.getUint32(at(o, 4), true),
    u64: (o) => {
      const v = dv.getUint32(at(o, 8), true) + dv.getUint32(o + 4, true) * 2 ** 32;
      if (!Number.isSafeInteger(v)) throw new PageError("damaged");
      return v;
    },
  };
}

// Reads only the end of the file: the end-of-central-directory record (and its ZIP64
// twin), then the central directory. Nothing else of a many-gigabyte archive is touched.
async function centralDirectory(file) {
  const head = await bytesAt(file, 0, 4);
  if (head.length < 4 || head[0] !== 0x50 || head[1] !== 0x4b) throw new PageError("notZip");
  const tailStart = Math.max(0, file.size - (22 + 0xffff));
  const tail = await bytesAt(file, tailStart, file.size);
  const t32 = le(tail);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (t32.u32(i) === 0x06054b50 && i + 22 + t32.u16(i + 20) <= tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new PageError("damaged"); // "PK" at the start but no end: cut short
  let dirSize = t32.u32(at + 12);
  let dirStart = t32.u32(at + 16);
  // ZIP64 (over 4 GB or 65,535 files): the real values are in a record whose place is
  // given by a locator just before the classic record.
  if (at >= 20 && t32.u32(at - 20) === 0x07064b50) {
    const recAt = t32.u64(at - 20 + 8);
    const rec = le(await bytesAt(file, recAt, recAt + 56));
    if (rec.u32(0) !== 0x06064b50) throw new PageError("damaged");
    dirSize = rec.u64(40);
    dirStart = rec.u64(48);
  }
  if (dirSize > LIMIT_DIRECTORY) throw new PageError("tooLarge", { size: () => sizeText(dirSize) });
  if (dirStart + dirSize > file.size) throw new PageError("damaged");
  const dir = await bytesAt(file, dirStart, dirStart + dirSize);
  const d = le(dir);
  const utf8 = new TextDecoder();
  const entries = [];
  for (let p = 0; p < dir.length; ) {
    if (d.u32(p) !== 0x02014b50) throw new PageError("damaged");
    const nameLen = d.u16(p + 28);
    const extraLen = d.u16(p + 30);
    const e = {
      flags: d.u16(p + 8),
      method: d.u16(p + 10),
      crc: d.u32(p + 16),
      csize: d.u32(p + 20),
      usize: d.u32(p + 24),
      offset: d.u32(p + 42),
      name: utf8.decode(dir.subarray(p + 46, p + 46 + nameLen)),
    };
    // The ZIP64 extra field holds, in this order, whichever of the three did not fit.
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen; x += 4 + d.u16(x + 2)) {
      if (d.u16(x) !== 1) continue;
      let q = x + 4;
      for (const k of ["usize", "csize", "offset"]) {
        if (e[k] === 0xffffffff) {
          e[k] = d.u64(q);
          q += 8;
        }
      }
    }
    entries.push(e);
    p += 46 + nameLen + extraLen + d.u16(p + 32);
  }
  return entries;
}

async function inflate(raw, size) {
  if (typeof DecompressionStream !== "function") throw new PageError("oldBrowser");
  const reader = new Blob([raw]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  const out = new Uint8Array(size);
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    // More than the directory announced: a damaged entry or a zip bomb; stop now.
    if (n + value.length > size) {
      await reader.cancel();
      throw new PageError("damaged");
    }
    out.set(value, n);
    n += value.length;
  }
  if (n !== size) throw new PageError("damaged");
  return out;
}

// One entry's stored bytes (raw, as in the zip) and its content (data), CRC checked.
async function readEntry(file, e) {
  if (e.flags & 1) throw new PageError("encrypted");
  if (e.method !== 0 && e.method !== 8) throw new PageError("unsupported");
  const local = le(await bytesAt(file, e.offset, e.offset + 30));
  if (local.u32(0) !== 0x04034b50) throw new PageError("damaged");
  const start = e.offset + 30 + local.u16(26) + local.u16(28);
  if (start + e.csize > file.size) throw new PageError("damaged");
  const raw = await bytesAt(file, start, start + e.csize);
  const data = e.method === 0 ? raw : await inflate(raw, e.usize);
  if (data.length !== e.usize || crc32(data) !== e.crc) throw new PageError("damaged");
  return { name: e.name, method: e.method, crc: e.crc, raw, data };
}

// The wanted files of one archive: Map "follower-part1.js" -> entry.
async function fromZip(file) {
  const wanted = new Map();
  for (const e of await centralDirectory(file)) {
    const m = ZIP_NAME.exec(e.name);
    if (m && !wanted.has(m[1])) wanted.set(m[1], e);
  }
  if (!wanted.has("account.js")) throw new PageError("notX");
  if (![...wanted.keys()].some((k) => k.startsWith("follow"))) throw new PageError("noLists");
  const total = [...wanted.values()].reduce((sum, e) => sum + e.usize, 0);
  if (total > LIMIT_SEND) throw new PageError("tooLarge", { size: () => sizeText(total) });
  const found = new Map();
  for (const [name, e] of wanted) found.set(name, await readEntry(file, e));
  return found;
}

async function fromLooseFiles(files) {
  const found = new Map();
  let total = 0;
  for (const f of files) {
    const m = LOOSE_NAME.exec(f.name);
    if (!m || found.has(m[1])) continue;
    total += f.size;
    if (total > LIMIT_SEND) throw new PageError("tooLarge", { size: () => sizeText(total) });
    const data = new Uint8Array(await f.arrayBuffer());
    found.set(m[1], { method: 0, crc: crc32(data), raw: data, data });
  }
  if (found.size === 0) throw new PageError("notX");
  if (!found.has("account.js")) throw new PageError("looseNoAccount");
  if (![...found.keys()].some((k) => k.startsWith("follow"))) throw new PageError("noLists");
  return found;
}

// ---- what the files say ------------------------------------------------------------------

// "window.YTD.follower.part0 = [...]" or "window.__THAR_CONFIG = {...}": JSON after the "=".
function unwrap(bytes) {
  const text = new TextDecoder().decode(bytes).replace(/^\uFEFF/, "");
  const eq = text.indexOf("=");
  if (eq < 0 || !/^\s*window\.[\w.$]+\s*$/.test(text.slice(0, eq))) throw new PageError("damaged");
  return JSON.parse(text.slice(eq + 1).trim().replace(/;$/, ""));
}

const isId = (v) => typeof v === "string" && /^\d{1,20}$/.test(v);

// Counts, handle and checks; throws a PageError in plain words when something is off.
function examine(found) {
  const account = unwrap(found.get("account.js").data)?.[0]?.account;
  if (!account || typeof account.username !== "string" || !isId(account.accountId)) {
    throw new PageError("notX");
  }
  const counts = { follower: 0, following: 0 };
  for (const [name, e] of found) {
    const kind = name.replace(/(?:-part\d+)?\.js$/, "");
    if (kind !== "follower" && kind !== "following") continue;
    const list = unwrap(e.data);
    // Each element is {"follower": {"accountId": "..."}}; userLink is optional.
    if (!Array.isArray(list) || !list.every((x) => isId(x?.[kind]?.accountId))) {
      throw new PageError("damaged");
    }
    counts[kind] += list.length;
  }
  let checked = false;
  if (found.has("manifest.js")) {
    const manifest = unwrap(found.get("manifest.js").data);
    const owner = manifest?.userInfo?.accountId;
    if (owner !== undefined && owner !== account.accountId) throw new PageError("mixed");
    for (const kind of ["follower", "following"]) {
      const files = manifest?.dataTypes?.[kind]?.files;
      if (!Array.isArray(files)) continue;
      const missing = files
        .map((f) => String(f?.fileName ?? "").replace(/^.*\//, ""))
        .filter((n) => !found.has(n));
      if (missing.length) throw new PageError("incomplete", { files: missing.join(", ") });
      const expected = files.reduce((sum, f) => sum + Number(f?.count), 0);
      if (Number.isFinite(expected) && expected !== counts[kind]) {
        const key = kind === "follower" ? "mismatchFollower" : "mismatchFollowing";
        throw new PageError(key, { expected, found: counts[kind] });
      }
      checked = true;
    }
  }
  // Without an index, both lists must be there: a missing one would silently count as empty.
  for (const kind of ["follower", "following"]) {
    if (![...found.keys()].some((n) => n.replace(/(?:-part\d+)?\.js$/, "") === kind)) {
      throw new PageError("incomplete", { files: `${kind}.js` });
    }
  }
  // account.js also holds the e-mail address and more: only what passerelle uses is sent.
  const slim = { accountId: account.accountId, username: account.username };
  if (typeof account.accountDisplayName === "string") {
    slim.accountDisplayName = account.accountDisplayName;
  }
  const accountJs = new TextEncoder().encode(
    `window.YTD.account.part0 = ${JSON.stringify([{ account: slim }], null, 2)}\n`,
  );
  found.set("account.js", { method: 0, crc: crc32(accountJs), raw: accountJs, data: accountJs });
  const entries = [...found].map(([name, e]) => ({ ...e, name: `data/${name}` }));
  return { handle: `@${account.username}`, counts, checked, entries };
}

// ---- zip writing -------------------------------------------------------------------------

// The fields a local header (at 4) and a central header (at 6) share.
function zipFields(dv, at, e, nameLen) {
  dv.setUint16(at, 20, true); // version needed: 2.0
  dv.setUint16(at + 2, 0x0800, true); // names are UTF-8
  dv.setUint16(at + 4, e.method, true);
  dv.setUint16(at + 6, 0, true); // time 00:00
  dv.setUint16(at + 8, 0x21, true); // date 1980-01-01
  dv.setUint32(at + 10, e.crc, true);
  dv.setUint32(at + 14, e.raw.length, true);
  dv.setUint32(at + 18, e.data.length, true);
  dv.setUint16(at + 22, nameLen, true);
}

// A new zip holding only these entries, their stored bytes copied as they were.
function buildZip(entries) {
  const parts = [];
  const central = [];
  let offset = 0;
  let dirSize = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    zipFields(local, 4, e, name.length);
    parts.push(local, name, e.raw);
    const dir = new DataView(new ArrayBuffer(46));
    dir.setUint32(0, 0x02014b50, true);
    dir.setUint16(4, 20, true); // made by: 2.0
    zipFields(dir, 6, e, name.length);
    dir.setUint32(42, offset, true);
    central.push(dir, name);
    offset += 30 + name.length + e.raw.length;
    dirSize += 46 + name.length;
  }
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, dirSize, true);
  end.setUint32(16, offset, true);
  return new Blob([...parts, ...central, end], { type: "application/zip" });
}

// ---- the page ----------------------------------------------------------------------------

async function pick(fileList) {
  const files = [...fileList];
  if (files.length === 0) return;
  const mine = ++generation;
  picked = null;
  $("summary").hidden = true;
  say($("archive-error"), null);
  say($("send-status"), null);
  say($("archive-status"), "reading");
  try {
    // One file that is not .js is read as a zip (whatever its name); several are loose files.
    const single = files.length === 1 && !/\.js$/i.test(files[0].name);
    if (files.length > 1 && files.some((f) => /\.zip$/i.test(f.name))) {
      throw new PageError("zipAndFiles");
    }
    const found = single ? await fromZip(files[0]) : await fromLooseFiles(files);
    const result = examine(found);
    if (mine !== generation) return;
    picked = result;
    showSummary(result);
    say($("archive-status"), null);
  } catch (err) {
    if (mine !== generation) return;
    say($("archive-status"), null);
    if (!(err instanceof PageError)) console.warn("passerelle: archive not readable:", err);
    const e = err instanceof PageError ? err : new PageError("damaged");
    say($("archive-error"), e.key, e.params);
  }
}

function showSummary(r) {
  $("s-handle").textContent = r.handle;
  say($("s-followers"), "count", { n: r.counts.follower });
  say($("s-following"), "count", { n: r.counts.following });
  say($("s-check"), r.checked ? "manifestOk" : "manifestNone");
  $("s-check").classList.toggle("warn", !r.checked);
  $("send").disabled = false;
  $("progress").hidden = true;
  $("summary").hidden = false;
}

function expired(body) {
  if (body?.bridge) state = { ...state, bridge: body.bridge };
  $("archive").hidden = true;
  $("consents").hidden = true;
  $("follows").hidden = true;
  say($("notice"), "expired", { bridge });
}

async function responseJson(r) {
  try {
    return await r.json();
  } catch {
    return null;
  }
}

// The server's answer ({handle, followers, following}) as message parameters.
function linkedParams(j) {
  return {
    handle: `@${String(j.handle ?? "").replace(/^@/, "")}`,
    followers: Number(j.followers) || 0,
    following: Number(j.following) || 0,
  };
}

async function loadState() {
  let r;
  try {
    r = await fetch("/link/state", { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch {
    say($("notice"), "stateFailed");
    return;
  }
  if (r.status === 401) return expired(await responseJson(r));
  const s = r.ok ? await responseJson(r) : null;
  if (!s || typeof s.csrf !== "string") {
    say($("notice"), "stateFailed");
    return;
  }
  state = s;
  if (!langChosen && T[s.lang]) lang = s.lang;
  if (s.member) {
    say($("member"), "member", { member: String(s.member).replace(/^acct:/, "@") });
    $("member").hidden = false;
  }
  if (s.handle) {
    say($("linked"), "linked", linkedParams(s));
    $("linked").hidden = false;
  }
  for (const k of CONSENTS) {
    if (typeof s.consents?.[k] === "boolean") $(`c-${k}`).checked = s.consents[k];
  }
  showFollows();
  showOauthResult();
  showXVerify();
  render();
}

function send() {
  if (!picked) return;
  const status = $("send-status");
  if (!state?.csrf) return say(status, "noSession", { bridge });
  const progress = $("progress");
  const xhr = new XMLHttpRequest();
  let lastTen = -1;
  $("send").disabled = true;
  progress.value = 0;
  progress.hidden = false;
  xhr.open("POST", "/link/archive");
  xhr.setRequestHeader("Content-Type", "application/zip");
  xhr.setRequestHeader("X-CSRF-Token", state.csrf);
  xhr.upload.onprogress = (ev) => {
    if (!ev.lengthComputable) return;
    const pct = Math.floor((ev.loaded / ev.total) * 100);
    progress.value = pct;
    // Screen readers hear every ten percent, not every event.
    if (Math.floor(pct / 10) !== lastTen) {
      lastTen = Math.floor(pct / 10);
      say(status, pct >= 100 ? "processing" : "sending", { pct });
    }
  };
  xhr.onload = () => {
    progress.hidden = true;
    let j = null;
    try {
      j = JSON.parse(xhr.responseText);
    } catch {
      /* an answer that is not JSON is reported by its status */
    }
    if (xhr.status === 200 && j) {
      say(status, "sent", linkedParams(j));
      state = { ...state, handle: j.handle };
      $("linked").hidden = true;
      return;
    }
    $("send").disabled = false;
    if (xhr.status === 401) return expired(j);
    if (xhr.status === 413) return say(status, "tooLargeServer");
    if (xhr.status >= 400 && xhr.status < 500 && typeof j?.error === "string") {
      return say(status, "refused", { reason: j.error });
    }
    say(status, "sendFailed", { status: xhr.status });
  };
  xhr.onerror = () => {
    progress.hidden = true;
    $("send").disabled = false;
    say(status, "network");
  };
  xhr.send(buildZip(picked.entries));
}

async function saveConsents(ev) {
  ev.preventDefault();
  const status = $("consent-status");
  if (!state?.csrf) return say(status, "noSession", { bridge });
  const body = {};
  for (const k of CONSENTS) body[k] = $(`c-${k}`).checked;
  say(status, "saving");
  let r;
  try {
    r = await fetch("/link/consents", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf },
      body: JSON.stringify(body),
    });
  } catch {
    return say(status, "network");
  }
  if (r.status === 401) return expired(await responseJson(r));
  const j = r.ok ? await responseJson(r) : null;
  if (j?.consents && state) {
    state = { ...state, consents: j.consents };
    showFollows();
  }
  say(status, r.ok ? "saved" : "saveFailed", { status: r.status });
}

// ---- following for you -------------------------------------------------------------------

// The grant's part of the page, from state: shown once the saved choice is autofollow.
function showFollows() {
  if (!state) return;
  const o = state.oauth ?? {};
  const f = state.follows ?? {};
  const auto = state.consents?.autofollow === true;
  $("follows").hidden = false;
  $("connect").hidden = !auto;
  $("connect-btn").hidden = !(auto && o.available && !o.granted);
  $("revoke-btn").hidden = !o.granted;
  if (!o.available) say($("connect-state"), "connectOff");
  else if (o.granted) {
    say($("connect-state"), "connected", {
      host: String(o.host ?? ""),
      done: Number(f.done) || 0,
      waiting: Number(f.waiting) || 0,
      failed: Number(f.failed) || 0,
    });
  } else say($("connect-state"), "notConnected");
  if (typeof state.following_csv === "string") $("csv-link").href = state.following_csv;
}

async function connect() {
  const err = $("connect-error");
  if (!state?.csrf) return say(err, "noSession", { bridge });
  say(err, null);
  say($("connect-state"), "connecting");
  $("connect-btn").disabled = true;
  let r;
  try {
    r = await fetch("/link/oauth/start", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf },
      body: "{}",
    });
  } catch {
    $("connect-btn").disabled = false;
    return say(err, "network");
  }
  const j = await responseJson(r);
  if (r.status === 401) return expired(j);
  if (r.ok && typeof j?.authorize_url === "string" && /^https?:\/\//.test(j.authorize_url)) {
    // Off to the member's own server, which asks them and sends them back here.
    location.assign(j.authorize_url);
    return;
  }
  $("connect-btn").disabled = false;
  showFollows();
  say(err, "connectFailed", { reason: typeof j?.error === "string" ? j.error : r.status });
}

async function revoke() {
  const err = $("connect-error");
  if (!state?.csrf) return say(err, "noSession", { bridge });
  say(err, null);
  let r;
  try {
    r = await fetch("/link/oauth/revoke", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf },
      body: "{}",
    });
  } catch {
    return say(err, "network");
  }
  if (r.status === 401) return expired(await responseJson(r));
  if (!r.ok) return say(err, "revokeFailed", { status: r.status });
  state = { ...state, oauth: { ...state.oauth, granted: false, host: null, since: null } };
  showFollows();
  const result = $("oauth-result");
  result.classList.add("ok");
  say(result, "revoked");
}

// Says how the authorisation ended, once, and takes ?oauth= off the address.
function showOauthResult() {
  if (!OAUTH_RESULTS.includes(oauthResult)) return;
  const el = $("oauth-result");
  el.classList.toggle("ok", oauthResult === "granted");
  say(el, `oauth_${oauthResult}`, { member: () => String(state?.member ?? "").replace(/^acct:/, "@") });
  history.replaceState(null, "", location.pathname);
}

// ---- verify with X -----------------------------------------------------------------------

// Its words, kept beside it; T reads them like the others.
const XT = {
  en: {
    xverifyTitle: "Verify with X",
    xverifyButton: "Verify with X",
    xverifyIntro:
      "An archive can be written by anyone, so your X account is a claim. Sign in with X once and X itself confirms it: your claim then wins over any other.",
    xverifyDone: "X confirmed that this X account is yours.",
    xverifyFailed: "Could not start verifying with X: {reason}",
    x_verified: "X confirmed your account: your claim is verified.",
    x_denied: "You refused on X, so nothing changed.",
    x_invalid: "This answer from X does not belong to this page. Please try again.",
    x_expired: "Verifying took too long. Please try again.",
    x_failed: "X did not confirm your account. Please try again later.",
    x_rate_limited: "X is busy right now. Please try again in a quarter of an hour.",
    x_suspended: "This account is suspended by the admin.",
    x_off: "This bridge does not verify with X.",
  },
  fr: {
    xverifyTitle: "Vérifier avec X",
    xverifyButton: "Vérifier avec X",
    xverifyIntro:
      "N'importe qui peut écrire une archive : votre compte X n'est donc qu'une déclaration. Connectez-vous une fois à X et X lui-même la confirme : votre déclaration l'emporte alors sur toute autre.",
    xverifyDone: "X a confirmé que ce compte X est le vôtre.",
    xverifyFailed: "Impossible de commencer la vérification avec X : {reason}",
    x_verified: "X a confirmé votre compte : il est vérifié.",
    x_denied: "Vous avez refusé sur X : rien n'a changé.",
    x_invalid: "Cette réponse de X ne correspond pas à cette page. Réessayez.",
    x_expired: "La vérification a pris trop de temps. Réessayez.",
    x_failed: "X n'a pas confirmé votre compte. Réessayez plus tard.",
    x_rate_limited: "X est surchargé. Réessayez dans un quart d'heure.",
    x_suspended: "Ce compte est suspendu par l'administrateur.",
    x_off: "Cette passerelle ne vérifie pas avec X.",
  },
};
for (const l of Object.keys(XT)) Object.assign(T[l], XT[l]);
const X_RESULTS = ["verified", "denied", "invalid", "expired", "failed", "rate_limited", "suspended", "off"];
const xResult = new URLSearchParams(location.search).get("x");

// Shown only when the server offers it (the operator configured an X app).
function showXVerify() {
  const x = state?.x_verify ?? {};
  $("xverify").hidden = !(x.offered || X_RESULTS.includes(xResult));
  $("xverify-btn").hidden = !x.offered || x.verified === true;
  say($("xverify-state"), x.verified ? "xverifyDone" : x.offered ? "xverifyIntro" : null);
  if (X_RESULTS.includes(xResult)) {
    const el = $("xverify-result");
    el.classList.toggle("ok", xResult === "verified");
    say(el, `x_${xResult}`);
    history.replaceState(null, "", location.pathname);
  }
}

async function verifyWithX() {
  const err = $("xverify-error");
  if (!state?.csrf) return say(err, "noSession", { bridge });
  say(err, null);
  $("xverify-btn").disabled = true;
  let r;
  try {
    r = await fetch("/link/x/start", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf },
      body: "{}",
    });
  } catch {
    $("xverify-btn").disabled = false;
    return say(err, "network");
  }
  const j = await responseJson(r);
  if (r.status === 401) return expired(j);
  if (r.ok && typeof j?.authorize_url === "string" && /^https?:\/\//.test(j.authorize_url)) {
    location.assign(j.authorize_url); // X asks the person, then sends them back here
    return;
  }
  $("xverify-btn").disabled = false;
  say(err, "xverifyFailed", { reason: typeof j?.error === "string" ? j.error : r.status });
}

function start() {
  for (const k of CONSENTS) $(`c-${k}`).checked = CONSENT_DEFAULTS[k];
  say($("consents-help"), "consentsHelp", { bridge });
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => {
      lang = b.dataset.lang;
      langChosen = true;
      render();
    });
  }
  $("file").addEventListener("change", () => pick($("file").files));
  // Drop anywhere: a file dropped outside a target would otherwise replace the page.
  const drop = $("drop");
  document.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    drop.classList.add("over");
  });
  document.addEventListener("dragleave", (ev) => {
    if (ev.relatedTarget === null) drop.classList.remove("over");
  });
  document.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    if (!$("archive").hidden && ev.dataTransfer?.files?.length) pick(ev.dataTransfer.files);
  });
  $("send").addEventListener("click", send);
  $("consent-form").addEventListener("submit", saveConsents);
  $("connect-btn").addEventListener("click", connect);
  $("revoke-btn").addEventListener("click", revoke);
  $("xverify-btn").addEventListener("click", verifyWithX);
  $("archive").hidden = false;
  $("consents").hidden = false;
  render();
  loadState();
}

start();
