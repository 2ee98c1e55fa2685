// The link page's list of the member's found contacts, both ways, a page at a time (the
// server's keyset cursor), with ignore, restore and undo, and who came back. It runs after
// link.js (both deferred, in order) and uses its T, t, say, $, state, expired and
// responseJson; its words are CT, merged into T, in the same seven languages.
"use strict";

const CT = {
  en: {
    contactsTitle: "Your former X contacts who are here",
    tabFollowing: "You followed them",
    tabFollowers: "They followed you",
    contactsCounts: "Found: {following} you followed on X, {followers} who followed you. Followed for you: {followed}.",
    cameBack: "{here} of your former X followers are here; {again} follow you again.",
    contactsEmpty: "Nobody found this way yet: people appear here as they arrive.",
    contactsMore: "Show more",
    contactsFailed: "Your contacts could not be loaded (error {status}).",
    noHandle: "An X account",
    ignore: "Ignore",
    restore: "Restore",
    undo: "Undo the follow",
    undoAll: "Undo every follow made for me",
    undoAllConfirm: "Press again to undo all {n} follows made for you",
    undoQueued: "Your server will undo {n} follows shortly.",
    undoQueuedBsky: "passerelle will delete {n} follows from your Bluesky account shortly.",
    actionFailed: "That did not work: {reason}",
    st_found: "found",
    st_told: "told by message",
    st_waiting: "will be followed for you",
    st_held: "waiting: a new claim",
    st_followed: "followed for you",
    st_undoing: "being undone",
    st_undone: "follow undone",
    st_failed: "could not be followed",
    st_stopped: "on hold",
    st_ignored: "ignored",
    st_follows_you: "follows you again",
    st_here: "here",
    viaBridge: "through Bridgy Fed",
  },
  fr: {
    contactsTitle: "Vos anciens contacts X qui sont ici",
    tabFollowing: "Vous les suiviez",
    tabFollowers: "Ils vous suivaient",
    contactsCounts: "Trouvés : {following} que vous suiviez sur X, {followers} qui vous suivaient. Suivis pour vous : {followed}.",
    cameBack: "{here} des personnes qui vous suivaient sur X sont ici ; {again} vous suivent de nouveau.",
    contactsEmpty: "Personne pour l'instant : les personnes apparaissent ici à leur arrivée.",
    contactsMore: "Afficher plus",
    contactsFailed: "Vos contacts n'ont pas pu être chargés (erreur {status}).",
    noHandle: "Un compte X",
    ignore: "Ignorer",
    restore: "Rétablir",
    undo: "Annuler le suivi",
    undoAll: "Annuler tous les suivis faits pour moi",
    undoAllConfirm: "Appuyez de nouveau pour annuler les {n} suivis faits pour vous",
    undoQueued: "Votre serveur annulera {n} suivis sous peu.",
    undoQueuedBsky: "passerelle supprimera {n} suivis de votre compte Bluesky sous peu.",
    actionFailed: "Cela n'a pas fonctionné : {reason}",
    st_found: "trouvé",
    st_told: "signalé par message",
    st_waiting: "sera suivi pour vous",
    st_held: "en attente : revendication récente",
    st_followed: "suivi pour vous",
    st_undoing: "annulation en cours",
    st_undone: "suivi annulé",
    st_failed: "n'a pas pu être suivi",
    st_stopped: "en pause",
    st_ignored: "ignoré",
    st_follows_you: "vous suit de nouveau",
    st_here: "ici",
    viaBridge: "par Bridgy Fed",
  },
  de: {
    contactsTitle: "Ihre früheren X-Kontakte, die hier sind",
    tabFollowing: "Sie folgten ihnen",
    tabFollowers: "Sie folgten Ihnen",
    contactsCounts: "Gefunden: {following}, denen Sie auf X folgten, {followers}, die Ihnen folgten. Für Sie gefolgt: {followed}.",
    cameBack: "{here} Ihrer früheren X-Follower sind hier; {again} folgen Ihnen wieder.",
    contactsEmpty: "Noch niemand: Personen erscheinen hier, sobald sie ankommen.",
    contactsMore: "Mehr anzeigen",
    contactsFailed: "Ihre Kontakte konnten nicht geladen werden (Fehler {status}).",
    noHandle: "Ein X-Account",
    ignore: "Ignorieren",
    restore: "Wiederherstellen",
    undo: "Folgen rückgängig machen",
    undoAll: "Alle für mich gemachten Folgen rückgängig machen",
    undoAllConfirm: "Erneut drücken, um alle {n} für Sie gemachten Folgen rückgängig zu machen",
    undoQueued: "Ihr Server macht {n} Folgen in Kürze rückgängig.",
    undoQueuedBsky: "passerelle löscht in Kürze {n} Folgen aus Ihrem Bluesky-Konto.",
    actionFailed: "Das hat nicht geklappt: {reason}",
    st_found: "gefunden",
    st_told: "per Nachricht mitgeteilt",
    st_waiting: "wird für Sie gefolgt",
    st_held: "wartet: neuer Anspruch",
    st_followed: "für Sie gefolgt",
    st_undoing: "wird rückgängig gemacht",
    st_undone: "Folgen rückgängig gemacht",
    st_failed: "konnte nicht gefolgt werden",
    st_stopped: "angehalten",
    st_ignored: "ignoriert",
    st_follows_you: "folgt Ihnen wieder",
    st_here: "hier",
    viaBridge: "über Bridgy Fed",
  },
  es: {
    contactsTitle: "Sus antiguos contactos de X que están aquí",
    tabFollowing: "Usted los seguía",
    tabFollowers: "Le seguían",
    contactsCounts: "Encontrados: {following} que seguía en X, {followers} que le seguían. Seguidos por usted: {followed}.",
    cameBack: "{here} de sus antiguos seguidores de X están aquí; {again} vuelven a seguirle.",
    contactsEmpty: "Nadie todavía: las personas aparecen aquí a medida que llegan.",
    contactsMore: "Mostrar más",
    contactsFailed: "No se pudieron cargar sus contactos (error {status}).",
    noHandle: "Una cuenta de X",
    ignore: "Ignorar",
    restore: "Restablecer",
    undo: "Deshacer el seguimiento",
    undoAll: "Deshacer todos los seguimientos hechos por mí",
    undoAllConfirm: "Pulse de nuevo para deshacer los {n} seguimientos hechos por usted",
    undoQueued: "Su servidor deshará {n} seguimientos en breve.",
    undoQueuedBsky: "passerelle eliminará en breve {n} seguimientos de su cuenta de Bluesky.",
    actionFailed: "No funcionó: {reason}",
    st_found: "encontrado",
    st_told: "avisado por mensaje",
    st_waiting: "se seguirá por usted",
    st_held: "en espera: reclamación reciente",
    st_followed: "seguido por usted",
    st_undoing: "deshaciéndose",
    st_undone: "seguimiento deshecho",
    st_failed: "no se pudo seguir",
    st_stopped: "en pausa",
    st_ignored: "ignorado",
    st_follows_you: "vuelve a seguirle",
    st_here: "aquí",
    viaBridge: "a través de Bridgy Fed",
  },
  it: {
    contactsTitle: "I Suoi ex contatti di X che sono qui",
    tabFollowing: "Li seguiva",
    tabFollowers: "La seguivano",
    contactsCounts: "Trovati: {following} che seguiva su X, {followers} che La seguivano. Seguiti per Lei: {followed}.",
    cameBack: "{here} dei Suoi ex follower di X sono qui; {again} La seguono di nuovo.",
    contactsEmpty: "Ancora nessuno: le persone compaiono qui man mano che arrivano.",
    contactsMore: "Mostra altri",
    contactsFailed: "Non è stato possibile caricare i Suoi contatti (errore {status}).",
    noHandle: "Un account X",
    ignore: "Ignora",
    restore: "Ripristina",
    undo: "Annulla il follow",
    undoAll: "Annulla tutti i follow fatti per me",
    undoAllConfirm: "Prema di nuovo per annullare tutti i {n} follow fatti per Lei",
    undoQueued: "Il Suo server annullerà {n} follow a breve.",
    undoQueuedBsky: "passerelle eliminerà a breve {n} follow dal Suo account Bluesky.",
    actionFailed: "Non ha funzionato: {reason}",
    st_found: "trovato",
    st_told: "avvisato per messaggio",
    st_waiting: "verrà seguito per Lei",
    st_held: "in attesa: rivendicazione recente",
    st_followed: "seguito per Lei",
    st_undoing: "annullamento in corso",
    st_undone: "follow annullato",
    st_failed: "non è stato possibile seguirlo",
    st_stopped: "in pausa",
    st_ignored: "ignorato",
    st_follows_you: "La segue di nuovo",
    st_here: "qui",
    viaBridge: "tramite Bridgy Fed",
  },
  pt: {
    contactsTitle: "Os seus antigos contactos do X que estão aqui",
    tabFollowing: "Você os seguia",
    tabFollowers: "Eles o seguiam",
    contactsCounts: "Encontrados: {following} que seguia no X, {followers} que o seguiam. Seguidos por si: {followed}.",
    cameBack: "{here} dos seus antigos seguidores do X estão aqui; {again} voltaram a segui-lo.",
    contactsEmpty: "Ninguém ainda: as pessoas aparecem aqui à medida que chegam.",
    contactsMore: "Mostrar mais",
    contactsFailed: "Não foi possível carregar os seus contactos (erro {status}).",
    noHandle: "Uma conta do X",
    ignore: "Ignorar",
    restore: "Restaurar",
    undo: "Desfazer o seguimento",
    undoAll: "Desfazer todos os seguimentos feitos por mim",
    undoAllConfirm: "Carregue de novo para desfazer os {n} seguimentos feitos por si",
    undoQueued: "O seu servidor desfará {n} seguimentos em breve.",
    undoQueuedBsky: "O passerelle vai apagar em breve {n} seguimentos da sua conta do Bluesky.",
    actionFailed: "Não funcionou: {reason}",
    st_found: "encontrado",
    st_told: "avisado por mensagem",
    st_waiting: "será seguido por si",
    st_held: "em espera: reivindicação recente",
    st_followed: "seguido por si",
    st_undoing: "a ser desfeito",
    st_undone: "seguimento desfeito",
    st_failed: "não foi possível seguir",
    st_stopped: "em pausa",
    st_ignored: "ignorado",
    st_follows_you: "voltou a segui-lo",
    st_here: "aqui",
    viaBridge: "através do Bridgy Fed",
  },
  nl: {
    contactsTitle: "Uw vroegere X-contacten die hier zijn",
    tabFollowing: "U volgde hen",
    tabFollowers: "Zij volgden u",
    contactsCounts: "Gevonden: {following} die u op X volgde, {followers} die u volgden. Voor u gevolgd: {followed}.",
    cameBack: "{here} van uw vroegere X-volgers zijn hier; {again} volgen u weer.",
    contactsEmpty: "Nog niemand: mensen verschijnen hier zodra ze aankomen.",
    contactsMore: "Meer tonen",
    contactsFailed: "Uw contacten konden niet worden geladen (fout {status}).",
    noHandle: "Een X-account",
    ignore: "Negeren",
    restore: "Herstellen",
    undo: "Volgen ongedaan maken",
    undoAll: "Alle voor mij gemaakte volgacties ongedaan maken",
    undoAllConfirm: "Druk nogmaals om alle {n} voor u gemaakte volgacties ongedaan te maken",
    undoQueued: "Uw server maakt {n} volgacties binnenkort ongedaan.",
    undoQueuedBsky: "passerelle verwijdert binnenkort {n} volgacties uit uw Bluesky-account.",
    actionFailed: "Dat is niet gelukt: {reason}",
    st_found: "gevonden",
    st_told: "per bericht gemeld",
    st_waiting: "wordt voor u gevolgd",
    st_held: "wacht: nieuwe claim",
    st_followed: "voor u gevolgd",
    st_undoing: "wordt ongedaan gemaakt",
    st_undone: "volgen ongedaan gemaakt",
    st_failed: "kon niet worden gevolgd",
    st_stopped: "gepauzeerd",
    st_ignored: "genegeerd",
    st_follows_you: "volgt u weer",
    st_here: "hier",
    viaBridge: "via Bridgy Fed",
  },
};
for (const l of Object.keys(CT)) Object.assign(T[l], CT[l]);

const contacts = { dir: "following", next: null, followed: 0, generation: 0 };

// A POST of the page's contacts API with its CSRF token: {r, j}, or null when offline.
async function contactsPost(path, body) {
  try {
    const r = await fetch(`/link/contacts/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf },
      body: JSON.stringify(body),
    });
    return { r, j: await responseJson(r) };
  } catch {
    return null;
  }
}

// A failed answer: the expired session as link.js shows it, anything else in plain words.
function contactsFailed(res) {
  if (res?.r.status === 401) {
    $("contacts").hidden = true;
    return expired(res.j);
  }
  if (!res) return say($("contacts-error"), "network");
  say($("contacts-error"), "actionFailed", { reason: typeof res.j?.error === "string" ? res.j.error : res.r.status });
}

async function loadContactCounts() {
  let r;
  try {
    r = await fetch("/link/contacts/counts", { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch {
    return;
  }
  const j = r.ok ? await responseJson(r) : null;
  if (!j) return;
  contacts.followed = Number(j.followed) || 0;
  say($("contacts-counts"), "contactsCounts", {
    following: Number(j.following) || 0,
    followers: Number(j.followers) || 0,
    followed: contacts.followed,
  });
  const here = Number(j.came_back?.here) || 0;
  if (here > 0) say($("contacts-back"), "cameBack", { here, again: Number(j.came_back?.again) || 0 });
  else say($("contacts-back"), null);
  const all = $("undo-all");
  all.hidden = contacts.followed === 0;
  delete all.dataset.armed;
  say(all, "undoAll");
}

function contactButton(key, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `contact-${key}`;
  say(b, key);
  b.addEventListener("click", () => onClick(b));
  return b;
}

// What to do about one contact, from its status.
function contactActions(li, c) {
  const box = li.querySelector(".actions");
  box.replaceChildren();
  say(li.querySelector(".what"), `st_${c.status}`);
  li.dataset.status = c.status;
  if (c.status === "ignored" || c.status === "undone") {
    box.append(contactButton("restore", () => contactChange(li, c, "restore")));
  } else {
    box.append(contactButton("ignore", () => contactChange(li, c, "ignore")));
  }
  // Not a follow the member made themselves on Bluesky: passerelle never deletes one (undo: false).
  if (c.status === "followed" && c.undo !== false) box.append(contactButton("undo", () => contactChange(li, c, "undo")));
}

async function contactChange(li, c, action) {
  say($("contacts-error"), null);
  for (const b of li.querySelectorAll("button")) b.disabled = true;
  const res = await contactsPost(action, { x_id: c.x_id });
  if (!res?.r.ok) {
    for (const b of li.querySelectorAll("button")) b.disabled = false;
    return contactsFailed(res);
  }
  if (action === "ignore") c.status = "ignored";
  else if (action === "undo") c.status = "undoing";
  else c.status = contacts.dir === "followers" ? "here" : "found"; // the matcher decides the rest
  contactActions(li, c);
  loadContactCounts();
}

function contactItem(c) {
  const li = document.createElement("li");
  li.className = "contact";
  li.dataset.xId = String(c.x_id);
  const who = document.createElement("span");
  who.className = "who";
  if (c.handle) who.textContent = `@${c.handle}`;
  else say(who, "noHandle");
  const now = document.createElement("a");
  now.className = "now";
  now.textContent = `@${String(c.acct).replace(/^@/, "")}`;
  // Only web addresses: a hostile value must never become a javascript: link.
  if (/^https?:\/\//.test(String(c.url))) now.href = c.url;
  now.rel = "noopener noreferrer";
  now.target = "_blank";
  const what = document.createElement("span");
  what.className = "what";
  const actions = document.createElement("span");
  actions.className = "actions";
  li.append(who, " → ", now, " ", what);
  // The follow crossed the networks: through the person's account bridged by Bridgy Fed.
  if (c.bridged === true) {
    const via = document.createElement("span");
    via.className = "via";
    say(via, "viaBridge");
    li.append(" ", via);
  }
  li.append(actions);
  contactActions(li, c);
  return li;
}

// One page of the current way; from the start when reset.
async function loadContacts(reset) {
  const gen = reset ? ++contacts.generation : contacts.generation;
  const list = $("contact-list");
  const q = new URLSearchParams({ dir: contacts.dir });
  if (!reset && contacts.next) q.set("after", contacts.next);
  let r;
  try {
    r = await fetch(`/link/contacts?${q}`, { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch {
    return say($("contacts-error"), "network");
  }
  const j = await responseJson(r);
  if (gen !== contacts.generation) return; // the other way was chosen meanwhile
  if (r.status === 401) return contactsFailed({ r, j });
  if (!r.ok || !Array.isArray(j?.contacts)) return say($("contacts-error"), "contactsFailed", { status: r.status });
  if (reset) list.replaceChildren();
  for (const c of j.contacts) list.append(contactItem(c));
  contacts.next = typeof j.next === "string" ? j.next : null;
  $("contacts-more").hidden = contacts.next === null;
  $("contacts-empty").hidden = list.children.length > 0;
}

function chooseContacts(dir) {
  contacts.dir = dir;
  contacts.next = null;
  for (const b of document.querySelectorAll("#contacts-tabs [data-dir]")) {
    b.setAttribute("aria-pressed", String(b.dataset.dir === dir));
  }
  loadContacts(true);
}

// "Undo all" asks once more, then queues every follow in one request.
async function undoAll() {
  const all = $("undo-all");
  if (!all.dataset.armed) {
    all.dataset.armed = "1";
    return say(all, "undoAllConfirm", { n: contacts.followed });
  }
  all.disabled = true;
  const res = await contactsPost("undo", { all: true });
  all.disabled = false;
  if (!res?.r.ok) return contactsFailed(res);
  // On Bluesky, passerelle deletes the records itself; elsewhere the member's server unfollows.
  say($("contacts-status"), Number(res.j?.bluesky) > 0 ? "undoQueuedBsky" : "undoQueued", { n: Number(res.j?.queued) || 0 });
  await loadContactCounts();
  chooseContacts(contacts.dir);
}

// Called by link.js once the state is loaded: shown to a member whose archive is linked.
function showContacts() {
  if (!state?.handle || !state.csrf) return;
  $("contacts").hidden = false;
  loadContactCounts();
  chooseContacts(contacts.dir);
}

for (const b of document.querySelectorAll("#contacts-tabs [data-dir]")) {
  b.addEventListener("click", () => chooseContacts(b.dataset.dir));
}
$("contacts-more").addEventListener("click", () => loadContacts(false));
$("undo-all").addEventListener("click", undoAll);
// Deferred scripts may run apart: link.js's state can arrive before this file has run, and
// link.js then found no showContacts to call.
if (state) showContacts();
render();
