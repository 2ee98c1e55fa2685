// The link page: opens an X archive in the browser, shows what it holds, sends only the
// lists passerelle needs (account, manifest, followers, following, and the ids of blocked and
// muted accounts), and saves the consents.
// Plain JS, no library, no build step; every string is in T (and XT), in English, French,
// German, Spanish, Italian, Portuguese and Dutch.
"use strict";

const T = {
  en: {
    title: "Link your X archive",
    intro:
      "passerelle helps you find the people you knew on X once they are on the fediverse too. " +
      "Your archive is opened here, on your own device: only your follower lists are sent.",
    member: "Fediverse account: {member}",
    bridgeFollows:
      "{bridge} follows your account only to hear it if you move to another one, so that passerelle moves with you: " +
      "removing it from your followers is fine (a move would then go unnoticed), but if you follow it, unfollowing or " +
      "blocking it makes passerelle forget you.",
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
    leaveTitle: "Leave passerelle",
    leaveHelp: "Forget me: passerelle deletes your account here, the lists from your X archive and your choices, at once. This cannot be undone.",
    leaveButton: "Forget me",
    leaveSure: "Are you sure? Everything passerelle holds about you will be deleted.",
    leaveConfirm: "Yes, forget me",
    left: "Done: passerelle has forgotten you. You can close this page.",
    leaveFailed: "Leaving failed (error {status}). Please try again.",
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
    bridgeFollows:
      "{bridge} s'abonne à votre compte uniquement pour apprendre si vous déménagez vers un autre, afin que passerelle " +
      "déménage avec vous\u00a0: vous pouvez le retirer de vos abonnés (un déménagement passerait alors inaperçu), mais " +
      "si vous êtes abonné à ce compte, vous en désabonner ou le bloquer fait que passerelle vous oublie.",
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
    leaveTitle: "Quitter passerelle",
    leaveHelp: "M'oublier : passerelle supprime tout de suite votre compte ici, les listes de votre archive X et vos choix. C'est irréversible.",
    leaveButton: "M'oublier",
    leaveSure: "En êtes-vous sûr ? Tout ce que passerelle garde sur vous sera supprimé.",
    leaveConfirm: "Oui, m'oublier",
    left: "C'est fait : passerelle vous a oublié. Vous pouvez fermer cette page.",
    leaveFailed: "Le départ a échoué (erreur {status}). Réessayez.",
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
  de: {
    title: "Ihr X-Archiv verknüpfen",
    intro:
      "passerelle hilft Ihnen, die Menschen wiederzufinden, die Sie von X kannten, sobald sie auch im Fediverse sind. " +
      "Ihr Archiv wird hier geöffnet, auf Ihrem eigenen Gerät: nur Ihre Follower-Listen werden gesendet.",
    member: "Fediverse-Account: {member}",
    bridgeFollows:
      "{bridge} folgt Ihrem Konto nur, um zu erfahren, wenn Sie zu einem anderen umziehen, damit passerelle mit Ihnen " +
      "umzieht: Sie können es aus Ihren Followern entfernen (ein Umzug bliebe dann unbemerkt), aber wenn Sie ihm folgen, " +
      "führt Entfolgen oder Blockieren dazu, dass passerelle Sie vergisst.",
    langLabel: "Sprache",
    step1: "Ihr X-Archiv",
    pickHelp:
      "Wählen Sie die .zip-Datei, die X Ihnen geschickt hat (Einstellungen, Dein Account, Archiv deiner Daten " +
      "herunterladen). Ihre Dateien account.js, follower.js und following.js gehen auch.",
    pickLabel: "Archiv wählen",
    dropHint: "oder ziehen Sie es irgendwo auf diese Seite",
    reading: "Ihr Archiv wird gelesen…",
    found: "In Ihrem Archiv gefunden",
    handle: "X-Account",
    followers: "Follower",
    following: "Gefolgt",
    count: "{n}",
    manifestOk: "Diese Zahlen stimmen mit dem eigenen Verzeichnis des Archivs überein.",
    manifestNone:
      "Das Verzeichnis des Archivs (manifest.js) fehlt, daher konnten diese Zahlen nicht gegengeprüft werden.",
    privacy:
      "Nur diese Listen werden gesendet: Ihr X-Name und Ihre Account-Nummer sowie die Account-Nummern " +
      "Ihrer Follower und der Accounts, denen Sie folgen. Ihre E-Mail-Adresse, Beiträge, Nachrichten " +
      "und Medien bleiben auf diesem Gerät.",
    send: "Diese Listen senden",
    sending: "Wird gesendet… {pct} %",
    processing: "Gesendet. passerelle liest die Listen…",
    sent: "Fertig. passerelle hat {handle} verknüpft: {followers} Follower, {following} gefolgt.",
    linked:
      "Schon verknüpft: {handle} ({followers} Follower, {following} gefolgt). Ein neueres " +
      "Archiv ersetzt diese Listen.",
    notZip: "Diese Datei ist kein .zip-Archiv. Wählen Sie die .zip-Datei von X oder ihre .js-Dateien.",
    notX: "Das sieht nicht nach einem X-Archiv aus: es enthält keine data/account.js.",
    noLists:
      "Dieses Archiv hat keine Follower-Listen (data/follower.js und data/following.js). " +
      "Fordern Sie Ihr vollständiges Archiv noch einmal bei X an.",
    looseNoAccount:
      "Fügen Sie auch account.js hinzu: daran erkennt passerelle, zu welchem X-Account diese Listen gehören.",
    zipAndFiles: "Wählen Sie entweder nur die .zip-Datei oder ihre .js-Dateien, nicht beides.",
    incomplete: "Einige Teile der Listen fehlen: {files}. Wählen Sie diese auch, oder die ganze .zip-Datei.",
    mismatchFollower:
      "Das Verzeichnis des Archivs nennt {expected} Follower, die Listen enthalten aber {found}. " +
      "Das Archiv ist vielleicht beschädigt; laden Sie es erneut von X herunter.",
    mismatchFollowing:
      "Das Verzeichnis des Archivs nennt {expected} gefolgte Accounts, die Listen enthalten aber {found}. " +
      "Das Archiv ist vielleicht beschädigt; laden Sie es erneut von X herunter.",
    mixed: "Diese Dateien stammen von zwei verschiedenen X-Accounts.",
    tooLarge:
      "Das ist zu groß zum Senden ({size}). Follower-Listen sind normalerweise viel kleiner: " +
      "ist das das richtige Archiv?",
    damaged: "Dieses Archiv ist beschädigt und kann nicht gelesen werden. Laden Sie es erneut von X herunter.",
    encrypted: "Dieses Archiv ist durch ein Passwort geschützt. Verwenden Sie das Archiv genau so, wie X es geschickt hat.",
    unsupported:
      "Dieses Archiv ist so komprimiert, dass der Browser es nicht öffnen kann. Verwenden Sie das Archiv " +
      "genau so, wie X es geschickt hat.",
    oldBrowser: "Dieser Browser kann keine Archive öffnen. Bitte nutzen Sie ein aktuelles Firefox, Chrome oder Safari.",
    expired:
      "Dieser Link ist abgelaufen oder wurde schon benutzt. Senden Sie „link“ als Direktnachricht an {bridge}, " +
      "um einen neuen zu erhalten.",
    stateFailed:
      "passerelle ist gerade nicht erreichbar. Sie können Ihr Archiv trotzdem prüfen; zum Senden " +
      "braucht es die Verbindung.",
    noSession:
      "Um etwas zu senden, braucht diese Seite den Link, den passerelle Ihnen geschickt hat. Öffnen Sie ihn erneut " +
      "oder senden Sie „link“ an {bridge} für einen neuen.",
    tooLargeServer: "passerelle hat diese Listen abgelehnt: sie sind größer, als dieser Server annimmt.",
    refused: "passerelle hat diese Listen abgelehnt: {reason}",
    sendFailed: "Senden fehlgeschlagen (Fehler {status}). Bitte versuchen Sie es erneut.",
    network: "Die Verbindung ist abgebrochen. Bitte versuchen Sie es erneut.",
    step2: "Was Sie erlauben",
    consentsHelp: "Jede Wahl lässt sich jederzeit ändern, hier oder mit einer Nachricht an {bridge}.",
    findable: "Man kann mich über meinen alten X-Namen finden",
    findableHelp: "Wer Ihren alten X-Namen bei passerelle sucht, bekommt Ihre neue Adresse angezeigt.",
    notify: "Mir sagen, wenn Menschen ankommen, die ich kannte",
    notifyHelp:
      "Eine Direktnachricht, wenn Menschen, denen Sie auf X folgten oder die Ihnen folgten, hier ankommen; " +
      "höchstens eine am Tag.",
    autofollow: "Ihnen für mich folgen",
    autofollowHelp:
      "passerelle folgt den Menschen, denen Sie auf X folgten, sobald sie ankommen und es erlauben, in Ihrem " +
      "Namen und über Ihren eigenen Server. Ihr Server bittet Sie zuerst um Zustimmung.",
    relay: "Meine öffentlichen Beiträge weitergeben",
    relayHelp:
      "Ihre öffentlichen Beiträge werden an die Server weitergegeben, auf denen Ihre früheren X-Follower jetzt sind, " +
      "damit sie sie sehen können.",
    save: "Meine Wahl speichern",
    saving: "Wird gespeichert…",
    saved: "Gespeichert.",
    saveFailed: "Ihre Wahl konnte nicht gespeichert werden (Fehler {status}). Bitte versuchen Sie es erneut.",
    step3: "Für Sie folgen",
    connect: "Ihren Server verbinden, damit er für Sie folgt",
    revoke: "Meinen Server trennen",
    connectOff:
      "Diese Brücke kann nicht in Ihrem Namen folgen: ihr Admin hat es nicht eingerichtet. Mit der " +
      "Liste unten können Sie ihnen trotzdem selbst folgen.",
    notConnected:
      "Ihr Server ist noch nicht verbunden. Verbunden kann passerelle in Ihrem Namen den Menschen folgen, " +
      "denen Sie auf X folgten, sobald sie ankommen. Ihr Server bittet Sie um Bestätigung.",
    connected:
      "Verbunden mit {host}. Gefolgt: {done}; wartend: {waiting}; nicht möglich: " +
      "{failed}.",
    connecting: "Ihr Server wird geöffnet…",
    connectFailed: "Ihr Server war nicht erreichbar: {reason}",
    revoked: "Getrennt. Es wird nichts mehr in Ihrem Namen gefolgt.",
    revokeFailed: "Trennen fehlgeschlagen (Fehler {status}). Bitte versuchen Sie es erneut.",
    leaveTitle: "passerelle verlassen",
    leaveHelp: "Mich vergessen: passerelle löscht sofort Ihr Konto hier, die Listen aus Ihrem X-Archiv und Ihre Auswahl. Das lässt sich nicht rückgängig machen.",
    leaveButton: "Mich vergessen",
    leaveSure: "Sind Sie sicher? Alles, was passerelle über Sie speichert, wird gelöscht.",
    leaveConfirm: "Ja, mich vergessen",
    left: "Erledigt: passerelle hat Sie vergessen. Sie können diese Seite schließen.",
    leaveFailed: "Verlassen fehlgeschlagen (Fehler {status}). Bitte versuchen Sie es erneut.",
    oauth_granted: "Ihr Server ist verbunden: passerelle folgt für Sie.",
    oauth_denied: "Sie haben auf Ihrem Server abgelehnt, daher wurde nichts verbunden.",
    oauth_invalid:
      "Diese Autorisierung begann nicht auf dieser Seite oder wurde schon benutzt. Bitte versuchen Sie es erneut.",
    oauth_expired: "Die Autorisierung hat zu lange gedauert. Bitte versuchen Sie es erneut.",
    oauth_failed: "Ihr Server hat passerelle keinen Zugang gegeben. Bitte versuchen Sie es später erneut.",
    oauth_wrong_account:
      "Ihr Server hat Zugang zu einem anderen Account als {member} gegeben, daher wurde nichts behalten.",
    oauth_off: "Diese Brücke kann nicht in Ihrem Namen folgen.",
    csvIntro: "Lieber selbst folgen?",
    csvLink: "Die Liste der gefundenen Menschen herunterladen (Importformat von Mastodon)",
  },
  es: {
    title: "Vincular su archivo de X",
    intro:
      "passerelle le ayuda a encontrar a las personas que conocía en X cuando también estén en el fediverso. " +
      "Su archivo se abre aquí, en su propio dispositivo: solo se envían sus listas de seguidores.",
    member: "Cuenta del fediverso: {member}",
    bridgeFollows:
      "{bridge} sigue su cuenta solo para enterarse si se muda a otra, de modo que passerelle se mude con usted: puede " +
      "quitarla de sus seguidores (una mudanza pasaría entonces desapercibida), pero si usted la sigue, dejar de seguirla " +
      "o bloquearla hace que passerelle le olvide.",
    langLabel: "Idioma",
    step1: "Su archivo de X",
    pickHelp:
      "Elija el archivo .zip que le envió X (Configuración, Tu cuenta, Descargar un archivo de tus " +
      "datos). Sus ficheros account.js, follower.js y following.js también sirven.",
    pickLabel: "Elegir su archivo",
    dropHint: "o suéltelo en cualquier lugar de esta página",
    reading: "Leyendo su archivo…",
    found: "Encontrado en su archivo",
    handle: "Cuenta de X",
    followers: "Seguidores",
    following: "Siguiendo",
    count: "{n}",
    manifestOk: "Estas cifras coinciden con el índice del propio archivo.",
    manifestNone:
      "El índice del archivo (manifest.js) no está, así que estas cifras no se han podido comprobar.",
    privacy:
      "Solo se enviarán estas listas: su nombre de X y su número de cuenta, y los números de cuenta " +
      "de sus seguidores y de las cuentas que sigue. Su correo electrónico, publicaciones, mensajes " +
      "y archivos multimedia se quedan en este dispositivo.",
    send: "Enviar estas listas",
    sending: "Enviando… {pct} %",
    processing: "Enviado. passerelle está leyendo las listas…",
    sent: "Hecho. passerelle vinculó {handle}: {followers} seguidores, {following} seguidos.",
    linked:
      "Ya vinculado: {handle} ({followers} seguidores, {following} seguidos). Enviar un archivo " +
      "más reciente sustituye estas listas.",
    notZip: "Este fichero no es un archivo .zip. Elija el .zip que le envió X, o sus ficheros .js.",
    notX: "Esto no parece un archivo de X: no contiene data/account.js.",
    noLists:
      "Este archivo no tiene listas de seguidores (data/follower.js y data/following.js). " +
      "Vuelva a pedir a X su archivo completo.",
    looseNoAccount:
      "Añada también account.js: indica a passerelle a qué cuenta de X pertenecen estas listas.",
    zipAndFiles: "Elija o bien el .zip solo, o bien sus ficheros .js, no ambos.",
    incomplete: "Faltan partes de las listas: {files}. Elíjalas también, o el .zip entero.",
    mismatchFollower:
      "El índice del archivo anuncia {expected} seguidores, pero las listas contienen {found}. " +
      "Puede que el archivo esté dañado; descárguelo de nuevo de X.",
    mismatchFollowing:
      "El índice del archivo anuncia {expected} cuentas seguidas, pero las listas contienen {found}. " +
      "Puede que el archivo esté dañado; descárguelo de nuevo de X.",
    mixed: "Estos ficheros proceden de dos cuentas de X distintas.",
    tooLarge:
      "Es demasiado grande para enviarlo ({size}). Las listas de seguidores suelen ser mucho más pequeñas: " +
      "¿es el archivo correcto?",
    damaged: "Este archivo está dañado y no se puede leer. Descárguelo de nuevo de X.",
    encrypted: "Este archivo está protegido con contraseña. Use el archivo tal como lo envió X.",
    unsupported:
      "Este archivo está comprimido de una forma que el navegador no puede abrir. Use el archivo " +
      "tal como lo envió X.",
    oldBrowser: "Este navegador no puede abrir archivos. Use un Firefox, Chrome o Safari reciente.",
    expired:
      "Este enlace ha caducado o ya se usó. Envíe «enlace» a {bridge} en un mensaje directo " +
      "para obtener uno nuevo.",
    stateFailed:
      "No se puede contactar con passerelle en este momento. Puede revisar su archivo igualmente; para enviarlo " +
      "hace falta la conexión.",
    noSession:
      "Para enviar algo, esta página necesita el enlace que le envió passerelle. Abra ese enlace de nuevo, " +
      "o envíe «enlace» a {bridge} para obtener uno nuevo.",
    tooLargeServer: "passerelle rechazó estas listas: son más grandes de lo que acepta este servidor.",
    refused: "passerelle rechazó estas listas: {reason}",
    sendFailed: "El envío falló (error {status}). Inténtelo de nuevo.",
    network: "Se perdió la conexión. Inténtelo de nuevo.",
    step2: "Lo que usted autoriza",
    consentsHelp: "Puede cambiar cada opción en cualquier momento, aquí o con un mensaje a {bridge}.",
    findable: "Se me puede encontrar por mi antiguo nombre de X",
    findableHelp: "A quien busque su antiguo nombre de X en passerelle se le muestra su nueva dirección.",
    notify: "Avisarme cuando lleguen personas que conocía",
    notifyHelp:
      "Un mensaje directo cuando lleguen aquí personas a las que seguía en X, o que le seguían; " +
      "como máximo uno al día.",
    autofollow: "Seguirlas por mí",
    autofollowHelp:
      "passerelle sigue a las personas que usted seguía en X cuando llegan y lo permiten, en su " +
      "nombre y a través de su propio servidor. Su servidor le pedirá antes que lo autorice.",
    relay: "Difundir mis publicaciones públicas",
    relayHelp:
      "Sus publicaciones públicas se transmiten a los servidores donde están ahora sus antiguos seguidores de X, " +
      "para que puedan verlas.",
    save: "Guardar mis opciones",
    saving: "Guardando…",
    saved: "Guardado.",
    saveFailed: "No se pudieron guardar sus opciones (error {status}). Inténtelo de nuevo.",
    step3: "Seguir por usted",
    connect: "Conectar su servidor para seguir por usted",
    revoke: "Desconectar mi servidor",
    connectOff:
      "Este puente no puede seguir en su nombre: su administrador no lo ha configurado. La " +
      "lista de abajo le permite seguirlas usted mismo.",
    notConnected:
      "Su servidor aún no está conectado. Al conectarlo, passerelle podrá seguir en su nombre " +
      "a las personas que seguía en X a medida que lleguen. Su servidor le pedirá que lo confirme.",
    connected:
      "Conectado a {host}. Seguimientos hechos: {done}; en espera: {waiting}; no se pudieron hacer: " +
      "{failed}.",
    connecting: "Abriendo su servidor…",
    connectFailed: "No se pudo contactar con su servidor: {reason}",
    revoked: "Desconectado. Ya no se seguirá a nadie en su nombre.",
    revokeFailed: "La desconexión falló (error {status}). Inténtelo de nuevo.",
    leaveTitle: "Salir de passerelle",
    leaveHelp: "Olvidarme: passerelle borra de inmediato su cuenta aquí, las listas de su archivo de X y sus elecciones. No se puede deshacer.",
    leaveButton: "Olvidarme",
    leaveSure: "¿Está seguro? Se borrará todo lo que passerelle guarda sobre usted.",
    leaveConfirm: "Sí, olvidarme",
    left: "Hecho: passerelle le ha olvidado. Puede cerrar esta página.",
    leaveFailed: "No se pudo salir (error {status}). Inténtelo de nuevo.",
    oauth_granted: "Su servidor está conectado: passerelle seguirá por usted.",
    oauth_denied: "Lo rechazó en su servidor, así que no se conectó nada.",
    oauth_invalid:
      "Esta autorización no empezó en esta página, o ya se usó. Inténtelo de nuevo.",
    oauth_expired: "La autorización tardó demasiado. Inténtelo de nuevo.",
    oauth_failed: "Su servidor no dio acceso a passerelle. Inténtelo más tarde.",
    oauth_wrong_account:
      "Su servidor dio acceso a otra cuenta distinta de {member}, así que no se guardó nada.",
    oauth_off: "Este puente no puede seguir en su nombre.",
    csvIntro: "¿Prefiere seguirlas usted mismo?",
    csvLink: "Descargar la lista de personas encontradas (formato de importación de Mastodon)",
  },
  it: {
    title: "Colleghi il Suo archivio di X",
    intro:
      "passerelle La aiuta a ritrovare le persone che conosceva su X quando arrivano anche loro nel fediverso. " +
      "Il Suo archivio viene aperto qui, sul Suo dispositivo: vengono inviate solo le Sue liste di follower.",
    member: "Account del fediverso: {member}",
    bridgeFollows:
      "{bridge} segue il Suo account solo per sapere se si trasferisce su un altro, così che passerelle si trasferisca " +
      "con Lei: può rimuoverlo dai Suoi follower (un trasferimento passerebbe allora inosservato), ma se Lei lo segue, " +
      "smettere di seguirlo o bloccarlo fa sì che passerelle La dimentichi.",
    langLabel: "Lingua",
    step1: "Il Suo archivio di X",
    pickHelp:
      "Scelga il file .zip che X Le ha inviato (Impostazioni, Il tuo account, Scarica un archivio dei tuoi " +
      "dati). Vanno bene anche i suoi file account.js, follower.js e following.js.",
    pickLabel: "Scegli l'archivio",
    dropHint: "oppure lo trascini in un punto qualsiasi di questa pagina",
    reading: "Lettura del Suo archivio…",
    found: "Trovato nel Suo archivio",
    handle: "Account X",
    followers: "Follower",
    following: "Seguiti",
    count: "{n}",
    manifestOk: "Questi numeri corrispondono all'indice dell'archivio stesso.",
    manifestNone:
      "L'indice dell'archivio (manifest.js) non c'è, quindi questi numeri non si sono potuti verificare.",
    privacy:
      "Saranno inviate solo queste liste: il Suo nome su X e il numero del Suo account, e i numeri degli account " +
      "dei Suoi follower e degli account che segue. Il Suo indirizzo e-mail, i post, i messaggi " +
      "e i contenuti multimediali restano su questo dispositivo.",
    send: "Invia queste liste",
    sending: "Invio in corso… {pct} %",
    processing: "Inviato. passerelle sta leggendo le liste…",
    sent: "Fatto. passerelle ha collegato {handle}: {followers} follower, {following} seguiti.",
    linked:
      "Già collegato: {handle} ({followers} follower, {following} seguiti). Inviare un archivio " +
      "più recente sostituisce queste liste.",
    notZip: "Questo file non è un archivio .zip. Scelga il file .zip inviato da X, o i suoi file .js.",
    notX: "Non sembra un archivio di X: non contiene data/account.js.",
    noLists:
      "Questo archivio non ha liste di follower (data/follower.js e data/following.js). " +
      "Richieda di nuovo a X il Suo archivio completo.",
    looseNoAccount:
      "Aggiunga anche account.js: dice a passerelle a quale account X appartengono queste liste.",
    zipAndFiles: "Scelga o il solo .zip, o i suoi file .js, non entrambi.",
    incomplete: "Mancano alcune parti delle liste: {files}. Scelga anche quelle, o l'intero .zip.",
    mismatchFollower:
      "L'indice dell'archivio annuncia {expected} follower ma le liste ne contengono {found}. " +
      "L'archivio potrebbe essere danneggiato; lo scarichi di nuovo da X.",
    mismatchFollowing:
      "L'indice dell'archivio annuncia {expected} account seguiti ma le liste ne contengono {found}. " +
      "L'archivio potrebbe essere danneggiato; lo scarichi di nuovo da X.",
    mixed: "Questi file provengono da due account X diversi.",
    tooLarge:
      "È troppo grande per essere inviato ({size}). Le liste di follower di solito sono molto più piccole: " +
      "è l'archivio giusto?",
    damaged: "Questo archivio è danneggiato e non si può leggere. Lo scarichi di nuovo da X.",
    encrypted: "Questo archivio è protetto da password. Usi l'archivio esattamente come X l'ha inviato.",
    unsupported:
      "Questo archivio è compresso in un modo che il browser non sa aprire. Usi l'archivio " +
      "esattamente come X l'ha inviato.",
    oldBrowser: "Questo browser non sa aprire gli archivi. Usi un Firefox, Chrome o Safari recente.",
    expired:
      "Questo link è scaduto o è già stato usato. Invii «link» a {bridge} in un messaggio diretto " +
      "per averne uno nuovo.",
    stateFailed:
      "passerelle non è raggiungibile in questo momento. Può comunque controllare il Suo archivio; per inviarlo " +
      "serve la connessione.",
    noSession:
      "Per inviare qualcosa, questa pagina ha bisogno del link che passerelle Le ha inviato. Riapra quel link, " +
      "oppure invii «link» a {bridge} per averne uno nuovo.",
    tooLargeServer: "passerelle ha rifiutato queste liste: sono più grandi di quanto accetta questo server.",
    refused: "passerelle ha rifiutato queste liste: {reason}",
    sendFailed: "Invio non riuscito (errore {status}). Riprovi.",
    network: "La connessione si è interrotta. Riprovi.",
    step2: "Che cosa autorizza",
    consentsHelp: "Ogni scelta si può cambiare in qualsiasi momento, qui o con un messaggio a {bridge}.",
    findable: "Si può trovarmi con il mio vecchio nome su X",
    findableHelp: "Chi cerca il Suo vecchio nome su X in passerelle vede il Suo nuovo indirizzo.",
    notify: "Avvisami quando arrivano persone che conoscevo",
    notifyHelp:
      "Un messaggio diretto quando arrivano qui persone che seguiva su X, o che La seguivano; " +
      "al massimo uno al giorno.",
    autofollow: "Seguile per me",
    autofollowHelp:
      "passerelle segue le persone che Lei seguiva su X quando arrivano e lo permettono, a Suo " +
      "nome e tramite il Suo server. Il Suo server Le chiede prima di autorizzarlo.",
    relay: "Rilancia i miei post pubblici",
    relayHelp:
      "I Suoi post pubblici vengono inoltrati ai server dove ora si trovano i Suoi ex follower di X, " +
      "così possono vederli.",
    save: "Salva le mie scelte",
    saving: "Salvataggio…",
    saved: "Salvato.",
    saveFailed: "Non è stato possibile salvare le Sue scelte (errore {status}). Riprovi.",
    step3: "Seguire per Lei",
    connect: "Colleghi il Suo server per seguire per Lei",
    revoke: "Scollega il mio server",
    connectOff:
      "Questo ponte non può seguire a Suo nome: il suo amministratore non l'ha configurato. La " +
      "lista qui sotto Le permette comunque di seguirle da sé.",
    notConnected:
      "Il Suo server non è ancora collegato. Collegarlo permette a passerelle di seguire a Suo nome " +
      "le persone che seguiva su X, man mano che arrivano. Il Suo server Le chiederà di confermare.",
    connected:
      "Collegato a {host}. Follow fatti: {done}; in attesa: {waiting}; non riusciti: " +
      "{failed}.",
    connecting: "Apertura del Suo server…",
    connectFailed: "Il Suo server non è raggiungibile: {reason}",
    revoked: "Scollegato. Non si seguirà più nessuno a Suo nome.",
    revokeFailed: "Scollegamento non riuscito (errore {status}). Riprovi.",
    leaveTitle: "Lasciare passerelle",
    leaveHelp: "Dimenticami: passerelle cancella subito il Suo account qui, le liste del Suo archivio X e le Sue scelte. Non si può annullare.",
    leaveButton: "Dimenticami",
    leaveSure: "È sicuro? Tutto ciò che passerelle conserva su di Lei sarà cancellato.",
    leaveConfirm: "Sì, dimenticami",
    left: "Fatto: passerelle L'ha dimenticata. Può chiudere questa pagina.",
    leaveFailed: "Uscita non riuscita (errore {status}). Riprovi.",
    oauth_granted: "Il Suo server è collegato: passerelle seguirà per Lei.",
    oauth_denied: "Ha rifiutato sul Suo server, quindi non è stato collegato nulla.",
    oauth_invalid:
      "Questa autorizzazione non è partita da questa pagina, o è già stata usata. Riprovi.",
    oauth_expired: "L'autorizzazione ha richiesto troppo tempo. Riprovi.",
    oauth_failed: "Il Suo server non ha dato accesso a passerelle. Riprovi più tardi.",
    oauth_wrong_account:
      "Il Suo server ha dato accesso a un account diverso da {member}, quindi non è stato tenuto nulla.",
    oauth_off: "Questo ponte non può seguire a Suo nome.",
    csvIntro: "Preferisce seguirle da sé?",
    csvLink: "Scarica l'elenco delle persone trovate (formato di importazione di Mastodon)",
  },
  pt: {
    title: "Vincular o seu arquivo do X",
    intro:
      "O passerelle ajuda você a reencontrar as pessoas que conhecia no X quando elas também estiverem no fediverso. " +
      "O seu arquivo é aberto aqui, no seu próprio aparelho: só as suas listas de seguidores são enviadas.",
    member: "Conta do fediverso: {member}",
    bridgeFollows:
      "{bridge} segue a sua conta apenas para saber se se mudar para outra, para que o passerelle se mude consigo: pode " +
      "removê-la dos seus seguidores (uma mudança passaria então despercebida), mas se a seguir, deixar de a seguir ou " +
      "bloqueá-la faz com que o passerelle se esqueça de si.",
    langLabel: "Idioma",
    step1: "O seu arquivo do X",
    pickHelp:
      "Escolha o arquivo .zip que o X lhe enviou (Configurações, Sua conta, Baixar um arquivo com seus " +
      "dados). Os arquivos account.js, follower.js e following.js dele também servem.",
    pickLabel: "Escolher o seu arquivo",
    dropHint: "ou solte-o em qualquer lugar desta página",
    reading: "Lendo o seu arquivo…",
    found: "Encontrado no seu arquivo",
    handle: "Conta do X",
    followers: "Seguidores",
    following: "Seguindo",
    count: "{n}",
    manifestOk: "Estes números conferem com o índice do próprio arquivo.",
    manifestNone:
      "O índice do arquivo (manifest.js) não está aqui, por isso estes números não puderam ser conferidos.",
    privacy:
      "Só estas listas serão enviadas: o seu nome no X e o número da sua conta, e os números das contas " +
      "dos seus seguidores e das contas que você segue. O seu e-mail, publicações, mensagens " +
      "e mídias ficam neste aparelho.",
    send: "Enviar estas listas",
    sending: "Enviando… {pct} %",
    processing: "Enviado. O passerelle está lendo as listas…",
    sent: "Pronto. O passerelle vinculou {handle}: {followers} seguidores, {following} seguidos.",
    linked:
      "Já vinculado: {handle} ({followers} seguidores, {following} seguidos). Enviar um arquivo " +
      "mais recente substitui estas listas.",
    notZip: "Este arquivo não é um .zip. Escolha o .zip que o X lhe enviou, ou os arquivos .js dele.",
    notX: "Isto não parece um arquivo do X: não há data/account.js nele.",
    noLists:
      "Este arquivo não tem listas de seguidores (data/follower.js e data/following.js). " +
      "Peça de novo ao X o seu arquivo completo.",
    looseNoAccount:
      "Adicione também account.js: ele diz ao passerelle a que conta do X estas listas pertencem.",
    zipAndFiles: "Escolha ou só o .zip, ou os arquivos .js dele, não os dois.",
    incomplete: "Faltam partes das listas: {files}. Escolha-as também, ou o .zip inteiro.",
    mismatchFollower:
      "O índice do arquivo anuncia {expected} seguidores, mas as listas contêm {found}. " +
      "O arquivo pode estar danificado; baixe-o de novo do X.",
    mismatchFollowing:
      "O índice do arquivo anuncia {expected} contas seguidas, mas as listas contêm {found}. " +
      "O arquivo pode estar danificado; baixe-o de novo do X.",
    mixed: "Estes arquivos vêm de duas contas do X diferentes.",
    tooLarge:
      "Isto é grande demais para enviar ({size}). As listas de seguidores costumam ser bem menores: " +
      "é o arquivo certo?",
    damaged: "Este arquivo está danificado e não pode ser lido. Baixe-o de novo do X.",
    encrypted: "Este arquivo está protegido por senha. Use o arquivo exatamente como o X o enviou.",
    unsupported:
      "Este arquivo está comprimido de um jeito que o navegador não consegue abrir. Use o arquivo " +
      "exatamente como o X o enviou.",
    oldBrowser: "Este navegador não consegue abrir arquivos compactados. Use um Firefox, Chrome ou Safari recente.",
    expired:
      "Este link expirou ou já foi usado. Envie «link» para {bridge} numa mensagem direta " +
      "para obter um novo.",
    stateFailed:
      "Não é possível contatar o passerelle agora. Você ainda pode conferir o seu arquivo; para enviar " +
      "é preciso a conexão.",
    noSession:
      "Para enviar algo, esta página precisa do link que o passerelle lhe enviou. Abra esse link de novo, " +
      "ou envie «link» para {bridge} para obter um novo.",
    tooLargeServer: "O passerelle recusou estas listas: são maiores do que este servidor aceita.",
    refused: "O passerelle recusou estas listas: {reason}",
    sendFailed: "O envio falhou (erro {status}). Tente de novo.",
    network: "A conexão caiu. Tente de novo.",
    step2: "O que você autoriza",
    consentsHelp: "Cada escolha pode ser mudada a qualquer momento, aqui ou por uma mensagem para {bridge}.",
    findable: "Podem me encontrar pelo meu antigo nome no X",
    findableHelp: "Quem procurar o seu antigo nome do X no passerelle verá o seu novo endereço.",
    notify: "Avisar-me quando chegarem pessoas que eu conhecia",
    notifyHelp:
      "Uma mensagem direta quando chegarem aqui pessoas que você seguia no X, ou que seguiam você; " +
      "no máximo uma por dia.",
    autofollow: "Segui-las por mim",
    autofollowHelp:
      "O passerelle segue as pessoas que você seguia no X quando elas chegam e permitem, em seu " +
      "nome e pelo seu próprio servidor. O seu servidor pede primeiro a sua autorização.",
    relay: "Retransmitir as minhas publicações públicas",
    relayHelp:
      "As suas publicações públicas são repassadas aos servidores onde agora estão os seus antigos seguidores do X, " +
      "para que eles as vejam.",
    save: "Salvar as minhas escolhas",
    saving: "Salvando…",
    saved: "Salvo.",
    saveFailed: "Não foi possível salvar as suas escolhas (erro {status}). Tente de novo.",
    step3: "Seguir por você",
    connect: "Conectar o seu servidor para seguir por você",
    revoke: "Desconectar o meu servidor",
    connectOff:
      "Esta ponte não pode seguir em seu nome: o administrador não a configurou para isso. A " +
      "lista abaixo ainda permite que você mesmo as siga.",
    notConnected:
      "O seu servidor ainda não está conectado. Conectá-lo permite que o passerelle siga, em seu nome, " +
      "as pessoas que você seguia no X à medida que chegam. O seu servidor vai pedir a sua confirmação.",
    connected:
      "Conectado a {host}. Seguimentos feitos: {done}; aguardando: {waiting}; não realizados: " +
      "{failed}.",
    connecting: "Abrindo o seu servidor…",
    connectFailed: "Não foi possível contatar o seu servidor: {reason}",
    revoked: "Desconectado. Nada mais será seguido em seu nome.",
    revokeFailed: "A desconexão falhou (erro {status}). Tente de novo.",
    leaveTitle: "Sair do passerelle",
    leaveHelp: "Esquecer-me: o passerelle apaga de imediato a sua conta aqui, as listas do seu arquivo do X e as suas escolhas. Não pode ser desfeito.",
    leaveButton: "Esquecer-me",
    leaveSure: "Tem a certeza? Tudo o que o passerelle guarda sobre si será apagado.",
    leaveConfirm: "Sim, esquecer-me",
    left: "Feito: o passerelle esqueceu-o. Pode fechar esta página.",
    leaveFailed: "A saída falhou (erro {status}). Tente de novo.",
    oauth_granted: "O seu servidor está conectado: o passerelle vai seguir por você.",
    oauth_denied: "Você recusou no seu servidor, então nada foi conectado.",
    oauth_invalid:
      "Esta autorização não começou nesta página, ou já foi usada. Tente de novo.",
    oauth_expired: "A autorização demorou demais. Tente de novo.",
    oauth_failed: "O seu servidor não deu acesso ao passerelle. Tente de novo mais tarde.",
    oauth_wrong_account:
      "O seu servidor deu acesso a outra conta que não {member}, então nada foi mantido.",
    oauth_off: "Esta ponte não pode seguir em seu nome.",
    csvIntro: "Prefere segui-las você mesmo?",
    csvLink: "Baixar a lista das pessoas encontradas (formato de importação do Mastodon)",
  },
  nl: {
    title: "Uw X-archief koppelen",
    intro:
      "passerelle helpt u de mensen terug te vinden die u van X kende, zodra ook zij op de fediverse zijn. " +
      "Uw archief wordt hier geopend, op uw eigen apparaat: alleen uw volgerslijsten worden verstuurd.",
    member: "Fediverse-account: {member}",
    bridgeFollows:
      "{bridge} volgt uw account alleen om te horen wanneer u naar een ander verhuist, zodat passerelle met u " +
      "meeverhuist: u kunt het uit uw volgers verwijderen (een verhuizing blijft dan onopgemerkt), maar als u het volgt, " +
      "zorgt ontvolgen of blokkeren ervoor dat passerelle u vergeet.",
    langLabel: "Taal",
    step1: "Uw X-archief",
    pickHelp:
      "Kies het .zip-bestand dat X u stuurde (Instellingen, Je account, Download een archief van je " +
      "gegevens). De bestanden account.js, follower.js en following.js eruit werken ook.",
    pickLabel: "Kies uw archief",
    dropHint: "of sleep het ergens op deze pagina",
    reading: "Uw archief wordt gelezen…",
    found: "Gevonden in uw archief",
    handle: "X-account",
    followers: "Volgers",
    following: "Volgend",
    count: "{n}",
    manifestOk: "Deze aantallen kloppen met de eigen index van het archief.",
    manifestNone:
      "De index van het archief (manifest.js) ontbreekt, dus deze aantallen konden niet worden nagekeken.",
    privacy:
      "Alleen deze lijsten worden verstuurd: uw X-naam en accountnummer, en de accountnummers " +
      "van uw volgers en van de accounts die u volgt. Uw e-mailadres, berichten, privéberichten " +
      "en media blijven op dit apparaat.",
    send: "Deze lijsten versturen",
    sending: "Versturen… {pct} %",
    processing: "Verstuurd. passerelle leest de lijsten…",
    sent: "Klaar. passerelle heeft {handle} gekoppeld: {followers} volgers, {following} gevolgd.",
    linked:
      "Al gekoppeld: {handle} ({followers} volgers, {following} gevolgd). Een nieuwer " +
      "archief versturen vervangt deze lijsten.",
    notZip: "Dit bestand is geen .zip-archief. Kies het .zip-bestand dat X u stuurde, of de .js-bestanden eruit.",
    notX: "Dit lijkt geen X-archief: er zit geen data/account.js in.",
    noLists:
      "Dit archief heeft geen volgerslijsten (data/follower.js en data/following.js). " +
      "Vraag X opnieuw om uw volledige archief.",
    looseNoAccount:
      "Voeg ook account.js toe: daaraan ziet passerelle bij welk X-account deze lijsten horen.",
    zipAndFiles: "Kies ofwel alleen de .zip, ofwel de .js-bestanden eruit, niet allebei.",
    incomplete: "Er ontbreken delen van de lijsten: {files}. Kies die ook, of de hele .zip.",
    mismatchFollower:
      "De index van het archief meldt {expected} volgers, maar de lijsten bevatten er {found}. " +
      "Het archief is misschien beschadigd; download het opnieuw van X.",
    mismatchFollowing:
      "De index van het archief meldt {expected} gevolgde accounts, maar de lijsten bevatten er {found}. " +
      "Het archief is misschien beschadigd; download het opnieuw van X.",
    mixed: "Deze bestanden komen van twee verschillende X-accounts.",
    tooLarge:
      "Dit is te groot om te versturen ({size}). Volgerslijsten zijn meestal veel kleiner: " +
      "is dit het juiste archief?",
    damaged: "Dit archief is beschadigd en kan niet worden gelezen. Download het opnieuw van X.",
    encrypted: "Dit archief is met een wachtwoord beveiligd. Gebruik het archief precies zoals X het stuurde.",
    unsupported:
      "Dit archief is zo gecomprimeerd dat de browser het niet kan openen. Gebruik het archief " +
      "precies zoals X het stuurde.",
    oldBrowser: "Deze browser kan geen archieven openen. Gebruik een recente Firefox, Chrome of Safari.",
    expired:
      "Deze link is verlopen of al gebruikt. Stuur “link” in een direct bericht naar {bridge} " +
      "voor een nieuwe.",
    stateFailed:
      "passerelle is nu niet bereikbaar. U kunt uw archief toch nakijken; om te versturen " +
      "is de verbinding nodig.",
    noSession:
      "Om iets te versturen, heeft deze pagina de link nodig die passerelle u stuurde. Open die link opnieuw, " +
      "of stuur “link” naar {bridge} voor een nieuwe.",
    tooLargeServer: "passerelle weigerde deze lijsten: ze zijn groter dan deze server aanvaardt.",
    refused: "passerelle weigerde deze lijsten: {reason}",
    sendFailed: "Versturen mislukt (fout {status}). Probeer het opnieuw.",
    network: "De verbinding is verbroken. Probeer het opnieuw.",
    step2: "Wat u toestaat",
    consentsHelp: "Elke keuze kunt u altijd wijzigen, hier of met een bericht aan {bridge}.",
    findable: "Men kan mij vinden via mijn oude X-naam",
    findableHelp: "Wie uw oude X-naam opzoekt bij passerelle, krijgt uw nieuwe adres te zien.",
    notify: "Laat me weten wanneer mensen die ik kende aankomen",
    notifyHelp:
      "Een direct bericht wanneer mensen die u op X volgde, of die u volgden, hier aankomen; " +
      "hoogstens één per dag.",
    autofollow: "Volg hen voor mij",
    autofollowHelp:
      "passerelle volgt de mensen die u op X volgde zodra ze aankomen en het toestaan, namens u " +
      "en via uw eigen server. Uw server vraagt u eerst om toestemming.",
    relay: "Mijn openbare berichten doorgeven",
    relayHelp:
      "Uw openbare berichten worden doorgegeven aan de servers waar uw vroegere X-volgers nu zitten, " +
      "zodat zij ze kunnen zien.",
    save: "Mijn keuzes bewaren",
    saving: "Bewaren…",
    saved: "Bewaard.",
    saveFailed: "Uw keuzes konden niet worden bewaard (fout {status}). Probeer het opnieuw.",
    step3: "Voor u volgen",
    connect: "Koppel uw server om voor u te volgen",
    revoke: "Mijn server loskoppelen",
    connectOff:
      "Deze brug kan niet namens u volgen: de beheerder heeft dat niet ingesteld. Met de " +
      "lijst hieronder kunt u hen toch zelf volgen.",
    notConnected:
      "Uw server is nog niet gekoppeld. Als u hem koppelt, kan passerelle namens u de mensen volgen " +
      "die u op X volgde, zodra ze aankomen. Uw server vraagt u om bevestiging.",
    connected:
      "Gekoppeld aan {host}. Gevolgd: {done}; wachtend: {waiting}; niet gelukt: " +
      "{failed}.",
    connecting: "Uw server wordt geopend…",
    connectFailed: "Uw server was niet bereikbaar: {reason}",
    revoked: "Losgekoppeld. Er wordt niets meer namens u gevolgd.",
    revokeFailed: "Loskoppelen mislukt (fout {status}). Probeer het opnieuw.",
    leaveTitle: "passerelle verlaten",
    leaveHelp: "Vergeet mij: passerelle verwijdert meteen uw account hier, de lijsten uit uw X-archief en uw keuzes. Dit kan niet ongedaan worden gemaakt.",
    leaveButton: "Vergeet mij",
    leaveSure: "Weet u het zeker? Alles wat passerelle over u bewaart, wordt verwijderd.",
    leaveConfirm: "Ja, vergeet mij",
    left: "Klaar: passerelle is u vergeten. U kunt deze pagina sluiten.",
    leaveFailed: "Vertrekken mislukt (fout {status}). Probeer het opnieuw.",
    oauth_granted: "Uw server is gekoppeld: passerelle volgt voor u.",
    oauth_denied: "U hebt op uw server geweigerd, dus er is niets gekoppeld.",
    oauth_invalid:
      "Deze autorisatie is niet op deze pagina begonnen, of is al gebruikt. Probeer het opnieuw.",
    oauth_expired: "De autorisatie duurde te lang. Probeer het opnieuw.",
    oauth_failed: "Uw server gaf passerelle geen toegang. Probeer het later opnieuw.",
    oauth_wrong_account:
      "Uw server gaf toegang tot een ander account dan {member}, dus er is niets bewaard.",
    oauth_off: "Deze brug kan niet namens u volgen.",
    csvIntro: "Volgt u hen liever zelf?",
    csvLink: "De lijst van gevonden mensen downloaden (importformaat van Mastodon)",
  },
};

// The files passerelle needs, wherever the archive keeps its data/ folder.
const ZIP_NAME = /(?:^|\/)data\/((?:account|manifest|follower|following|block|mute)(?:-part\d+)?\.js)$/;
const LOOSE_NAME = /^((?:account|manifest|follower|following|block|mute)(?:-part\d+)?\.js)$/;
// Large enough for a few million edges; the media (gigabytes) are never read.
const LIMIT_SEND = 512 * 1024 * 1024;
const LIMIT_DIRECTORY = 64 * 1024 * 1024;
const CONSENTS = ["findable", "notify", "autofollow", "relay"];
const CONSENT_DEFAULTS = { findable: true, notify: true, autofollow: false, relay: false };

const $ = (id) => document.getElementById(id);
// The browser's language when the page has it ("pt-BR" is pt), else English; the server's
// guess (Accept-Language, then the member's choice) replaces it until the person picks one.
const browserLang = (navigator.language || "en").toLowerCase().split("-")[0];
let lang = Object.hasOwn(T, browserLang) ? browserLang : "en";
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
  const excludes = slimExcludes(found);
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
  return { handle: `@${account.username}`, counts, checked, entries, excludes };
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
  showExcludes($("s-excludes"), r.excludes.block, r.excludes.mute);
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
  // The bridge account follows fediverse members to hear their Move; not said once refused.
  const follows = typeof s.bridge_follow === "string" && s.bridge_follow !== "rejected";
  if (follows) say($("bridge-follows"), "bridgeFollows", { bridge });
  $("bridge-follows").hidden = !follows;
  if (s.handle) {
    say($("linked"), "linked", linkedParams(s));
    $("linked").hidden = false;
    showExcludes($("excludes"), Number(s.blocked) || 0, Number(s.muted) || 0);
  }
  for (const k of CONSENTS) {
    if (typeof s.consents?.[k] === "boolean") $(`c-${k}`).checked = s.consents[k];
  }
  showFollows();
  showOauthResult();
  showXVerify();
  $("leave").hidden = false;
  if (typeof showContacts === "function") showContacts(); // contacts.js
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

// POST path with the page's CSRF token and an empty JSON body, button (if any) disabled
// meanwhile: the response, or null once the problem (no session, no network) is said in err.
async function postPage(path, err, button = null) {
  if (!state?.csrf) {
    say(err, "noSession", { bridge });
    return null;
  }
  say(err, null);
  if (button) button.disabled = true;
  try {
    return await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf },
      body: "{}",
    });
  } catch {
    if (button) button.disabled = false;
    say(err, "network");
    return null;
  }
}

// The grant's part of the page, from state: shown once the saved choice is autofollow.
function showFollows() {
  if (!state) return;
  const o = state.oauth ?? {};
  const f = state.follows ?? {};
  const auto = state.consents?.autofollow === true;
  $("follows").hidden = false;
  $("connect").hidden = !auto;
  $("connect-btn").hidden = !(auto && o.available && (!o.granted || o.lists === false));
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
  showList(o);
  if (typeof state.following_csv === "string") $("csv-link").href = state.following_csv;
}

async function connect() {
  const err = $("connect-error");
  say($("connect-state"), "connecting");
  const r = await postPage("/link/oauth/start", err, $("connect-btn"));
  if (!r) return;
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
  const r = await postPage("/link/oauth/revoke", err);
  if (!r) return;
  if (r.status === 401) return expired(await responseJson(r));
  if (!r.ok) return say(err, "revokeFailed", { status: r.status });
  state = { ...state, oauth: { ...state.oauth, granted: false, host: null, since: null } };
  showFollows();
  const result = $("oauth-result");
  result.classList.add("ok");
  say(result, "revoked");
}

// Forget me: asked twice (the first click only shows the question), then the member is gone
// here and the page keeps only the answer.
async function leave() {
  const err = $("leave-error");
  const r = await postPage("/link/leave", err, $("leave-confirm"));
  if (!r) return;
  if (r.status === 401) return expired(await responseJson(r));
  if (!r.ok) {
    $("leave-confirm").disabled = false;
    return say(err, "leaveFailed", { status: r.status });
  }
  state = null;
  for (const s of document.querySelectorAll("main section")) s.hidden = true;
  $("member").hidden = true;
  $("bridge-follows").hidden = true;
  say($("notice"), "left");
}

// Says how the authorisation ended, once, and takes ?oauth= off the address.
function showOauthResult() {
  if (!OAUTH_RESULTS.includes(oauthResult)) return;
  const el = $("oauth-result");
  el.classList.toggle("ok", oauthResult === "granted");
  say(el, `oauth_${oauthResult}`, { member: () => String(state?.member ?? "").replace(/^acct:/, "@") });
  history.replaceState(null, "", location.pathname);
}

// ---- X blocks and mutes ------------------------------------------------------------------

// Their words, kept beside them; T reads them like the others.
const BT = {
  en: {
    excludes:
      "Blocked on X: {blocked}; muted: {muted}. Their accounts will never be followed or told about you, and you will never be told about them.",
    excludesPrivacy:
      "The account numbers of the accounts you blocked or muted are sent too (nothing else of those lists), so that passerelle keeps them away from you.",
    listTitle: "Former X contacts",
    listReconnect:
      "Your server was connected before passerelle could also put the people it follows for you in a list, “{title}”. Connect it again to allow that; the follows go on meanwhile.",
    listed: "The people followed for you are also in the list “{title}” on your server ({n} so far).",
    listGone:
      "You deleted the list “{title}” on your server, so passerelle no longer fills it. Connect your server again to have it made anew.",
    listRefused: "Your server refused the list “{title}”; the follows go on without it.",
  },
  fr: {
    excludes:
      "Bloqués sur X\u00a0: {blocked}\u00a0; masqués\u00a0: {muted}. Leurs comptes ne seront jamais suivis ni informés de votre arrivée, et vous ne serez jamais informé de la leur.",
    excludesPrivacy:
      "Les numéros des comptes que vous avez bloqués ou masqués sont aussi envoyés (rien d'autre de ces listes), pour que passerelle les tienne à l'écart de vous.",
    listTitle: "Anciens contacts X",
    listReconnect:
      "Votre serveur a été connecté avant que passerelle puisse aussi mettre les personnes qu'il suit pour vous dans une liste, «\u00a0{title}\u00a0». Connectez-le à nouveau pour le permettre\u00a0; les abonnements continuent en attendant.",
    listed: "Les personnes suivies pour vous sont aussi dans la liste «\u00a0{title}\u00a0» de votre serveur ({n} pour l'instant).",
    listGone:
      "Vous avez supprimé la liste «\u00a0{title}\u00a0» de votre serveur\u00a0: passerelle ne la remplit plus. Connectez votre serveur à nouveau pour qu'elle soit recréée.",
    listRefused: "Votre serveur a refusé la liste «\u00a0{title}\u00a0»\u00a0; les abonnements continuent sans elle.",
  },
  de: {
    excludes:
      "Auf X blockiert: {blocked}; stummgeschaltet: {muted}. Ihren Accounts wird nie gefolgt, sie erfahren nie von Ihnen, und Sie erfahren nie von ihnen.",
    excludesPrivacy:
      "Die Nummern der Accounts, die Sie blockiert oder stummgeschaltet haben, werden auch gesendet (sonst nichts aus diesen Listen), damit passerelle sie von Ihnen fernhält.",
    listTitle: "Frühere X-Kontakte",
    listReconnect:
      "Ihr Server wurde verbunden, bevor passerelle die Menschen, denen es für Sie folgt, auch in eine Liste „{title}“ eintragen konnte. Verbinden Sie ihn erneut, um das zu erlauben; das Folgen geht inzwischen weiter.",
    listed: "Die Menschen, denen für Sie gefolgt wird, stehen auch in der Liste „{title}“ auf Ihrem Server (bisher {n}).",
    listGone:
      "Sie haben die Liste „{title}“ auf Ihrem Server gelöscht, daher füllt passerelle sie nicht mehr. Verbinden Sie Ihren Server erneut, damit sie neu angelegt wird.",
    listRefused: "Ihr Server hat die Liste „{title}“ abgelehnt; das Folgen geht ohne sie weiter.",
  },
  es: {
    excludes:
      "Bloqueadas en X: {blocked}; silenciadas: {muted}. Sus cuentas nunca serán seguidas ni sabrán de usted, y usted nunca sabrá de ellas.",
    excludesPrivacy:
      "También se envían los números de las cuentas que bloqueó o silenció (nada más de esas listas), para que passerelle las mantenga lejos de usted.",
    listTitle: "Antiguos contactos de X",
    listReconnect:
      "Su servidor se conectó antes de que passerelle pudiera poner también en una lista, «{title}», a las personas que sigue por usted. Conéctelo de nuevo para permitirlo; mientras tanto, los seguimientos continúan.",
    listed: "Las personas seguidas por usted también están en la lista «{title}» de su servidor ({n} por ahora).",
    listGone:
      "Eliminó la lista «{title}» de su servidor, así que passerelle ya no la llena. Conecte su servidor de nuevo para que se cree otra vez.",
    listRefused: "Su servidor rechazó la lista «{title}»; los seguimientos continúan sin ella.",
  },
  it: {
    excludes:
      "Bloccati su X: {blocked}; silenziati: {muted}. I loro account non saranno mai seguiti né informati di Lei, e Lei non sarà mai informato di loro.",
    excludesPrivacy:
      "Vengono inviati anche i numeri degli account che ha bloccato o silenziato (nient'altro di quelle liste), perché passerelle li tenga lontani da Lei.",
    listTitle: "Ex contatti di X",
    listReconnect:
      "Il Suo server è stato collegato prima che passerelle potesse mettere anche in una lista, «{title}», le persone che segue per Lei. Lo colleghi di nuovo per permetterlo; nel frattempo i follow continuano.",
    listed: "Le persone seguite per Lei sono anche nella lista «{title}» del Suo server ({n} finora).",
    listGone:
      "Ha eliminato la lista «{title}» dal Suo server, quindi passerelle non la riempie più. Colleghi di nuovo il Suo server perché venga ricreata.",
    listRefused: "Il Suo server ha rifiutato la lista «{title}»; i follow continuano senza di essa.",
  },
  pt: {
    excludes:
      "Bloqueadas no X: {blocked}; silenciadas: {muted}. As contas delas nunca serão seguidas nem avisadas sobre você, e você nunca será avisado sobre elas.",
    excludesPrivacy:
      "Os números das contas que você bloqueou ou silenciou também são enviados (nada mais dessas listas), para que o passerelle as mantenha longe de você.",
    listTitle: "Antigos contatos do X",
    listReconnect:
      "O seu servidor foi conectado antes de o passerelle poder pôr também numa lista, “{title}”, as pessoas que ele segue por você. Conecte-o de novo para permitir isso; enquanto isso, os seguimentos continuam.",
    listed: "As pessoas seguidas por você também estão na lista “{title}” do seu servidor ({n} até agora).",
    listGone:
      "Você apagou a lista “{title}” do seu servidor, então o passerelle não a preenche mais. Conecte o seu servidor de novo para que ela seja criada outra vez.",
    listRefused: "O seu servidor recusou a lista “{title}”; os seguimentos continuam sem ela.",
  },
  nl: {
    excludes:
      "Geblokkeerd op X: {blocked}; genegeerd: {muted}. Hun accounts worden nooit gevolgd of over u ingelicht, en u wordt nooit over hen ingelicht.",
    excludesPrivacy:
      "De nummers van de accounts die u blokkeerde of negeerde worden ook verstuurd (verder niets uit die lijsten), zodat passerelle ze bij u weghoudt.",
    listTitle: "Voormalige X-contacten",
    listReconnect:
      "Uw server werd verbonden voordat passerelle de mensen die het voor u volgt ook in een lijst, ‘{title}’, kon zetten. Verbind hem opnieuw om dat toe te staan; het volgen gaat intussen door.",
    listed: "De mensen die voor u gevolgd worden staan ook in de lijst ‘{title}’ op uw server (tot nu toe {n}).",
    listGone:
      "U hebt de lijst ‘{title}’ op uw server verwijderd, dus passerelle vult die niet meer. Verbind uw server opnieuw om hem opnieuw te laten maken.",
    listRefused: "Uw server weigerde de lijst ‘{title}’; het volgen gaat zonder door.",
  },
};
for (const l of Object.keys(BT)) Object.assign(T[l], BT[l]);

// block.js and mute.js ({"blocking": {"accountId", "userLink"}}, {"muting": ...}), all parts:
// checked as strictly as the follower lists, then sent as one file each holding only the
// ids. Returns how many of each.
function slimExcludes(found) {
  const manifest = found.has("manifest.js") ? unwrap(found.get("manifest.js").data) : null;
  const out = { block: 0, mute: 0 };
  for (const [kind, key] of [["block", "blocking"], ["mute", "muting"]]) {
    const names = [...found.keys()].filter((n) => n.replace(/(?:-part\d+)?\.js$/, "") === kind);
    if (names.length === 0) continue; // an archive without the list says nothing of it
    const ids = [];
    const part = (n) => Number(/-part(\d+)\.js$/.exec(n)?.[1] ?? 0);
    for (const name of names.sort((x, y) => part(x) - part(y))) {
      const list = unwrap(found.get(name).data);
      if (!Array.isArray(list) || !list.every((x) => isId(x?.[key]?.accountId))) {
        throw new PageError("damaged");
      }
      for (const x of list) ids.push(x[key].accountId);
      found.delete(name);
    }
    const files = manifest?.dataTypes?.[kind]?.files;
    if (Array.isArray(files)) {
      const expected = files.reduce((sum, f) => sum + Number(f?.count), 0);
      if (Number.isFinite(expected) && expected !== ids.length) throw new PageError("damaged");
    }
    const slim = ids.map((accountId) => ({ [key]: { accountId } }));
    const data = new TextEncoder().encode(`window.YTD.${kind}.part0 = ${JSON.stringify(slim)}\n`);
    found.set(`${kind}.js`, { method: 0, crc: crc32(data), raw: data, data });
    out[kind] = ids.length;
  }
  return out;
}

// The counts and what they mean, when there are any.
function showExcludes(el, blocked, muted) {
  el.hidden = blocked + muted === 0;
  if (el.id === "s-excludes") $("s-excludes-privacy").hidden = el.hidden;
  if (!el.hidden) say(el, "excludes", { blocked, muted });
}

// The list on the member's server: a grant from before lists asks to connect again.
function showList(o) {
  const el = $("list-state");
  const title = () => t("listTitle");
  let key = null;
  if (o.granted && o.lists === false) key = "listReconnect";
  else if (o.granted && o.list === "gone") key = "listGone";
  else if (o.granted && o.list === "refused") key = "listRefused";
  else if (o.granted && Number(o.listed) > 0) key = "listed";
  el.hidden = key === null;
  say(el, key, { title, n: Number(o.listed) || 0 });
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
  de: {
    xverifyTitle: "Mit X bestätigen",
    xverifyButton: "Mit X bestätigen",
    xverifyIntro:
      "Ein Archiv kann jeder schreiben, Ihr X-Account ist also nur eine Angabe. Melden Sie sich einmal bei X an, und X selbst bestätigt sie: Ihre Angabe hat dann Vorrang vor jeder anderen.",
    xverifyDone: "X hat bestätigt, dass dieser X-Account Ihnen gehört.",
    xverifyFailed: "Die Bestätigung mit X konnte nicht beginnen: {reason}",
    x_verified: "X hat Ihren Account bestätigt: Ihr Anspruch ist bestätigt.",
    x_denied: "Sie haben bei X abgelehnt, daher hat sich nichts geändert.",
    x_invalid: "Diese Antwort von X gehört nicht zu dieser Seite. Bitte versuchen Sie es erneut.",
    x_expired: "Die Bestätigung hat zu lange gedauert. Bitte versuchen Sie es erneut.",
    x_failed: "X hat Ihren Account nicht bestätigt. Bitte versuchen Sie es später erneut.",
    x_rate_limited: "X ist gerade ausgelastet. Bitte versuchen Sie es in einer Viertelstunde erneut.",
    x_suspended: "Dieser Account ist vom Admin gesperrt.",
    x_off: "Diese Brücke bestätigt nicht mit X.",
  },
  es: {
    xverifyTitle: "Verificar con X",
    xverifyButton: "Verificar con X",
    xverifyIntro:
      "Cualquiera puede escribir un archivo, así que su cuenta de X es solo una declaración. Inicie sesión en X una vez y el propio X la confirma: su declaración prevalece entonces sobre cualquier otra.",
    xverifyDone: "X confirmó que esta cuenta de X es suya.",
    xverifyFailed: "No se pudo empezar la verificación con X: {reason}",
    x_verified: "X confirmó su cuenta: su reclamación está verificada.",
    x_denied: "Lo rechazó en X, así que nada ha cambiado.",
    x_invalid: "Esta respuesta de X no corresponde a esta página. Inténtelo de nuevo.",
    x_expired: "La verificación tardó demasiado. Inténtelo de nuevo.",
    x_failed: "X no confirmó su cuenta. Inténtelo más tarde.",
    x_rate_limited: "X está saturado ahora mismo. Inténtelo de nuevo dentro de un cuarto de hora.",
    x_suspended: "Esta cuenta está suspendida por el administrador.",
    x_off: "Este puente no verifica con X.",
  },
  it: {
    xverifyTitle: "Verifica con X",
    xverifyButton: "Verifica con X",
    xverifyIntro:
      "Chiunque può scrivere un archivio, quindi il Suo account X è solo una dichiarazione. Acceda una volta a X e X stesso la conferma: la Sua dichiarazione prevale allora su qualsiasi altra.",
    xverifyDone: "X ha confermato che questo account X è Suo.",
    xverifyFailed: "Impossibile avviare la verifica con X: {reason}",
    x_verified: "X ha confermato il Suo account: la Sua rivendicazione è verificata.",
    x_denied: "Ha rifiutato su X, quindi non è cambiato nulla.",
    x_invalid: "Questa risposta di X non appartiene a questa pagina. Riprovi.",
    x_expired: "La verifica ha richiesto troppo tempo. Riprovi.",
    x_failed: "X non ha confermato il Suo account. Riprovi più tardi.",
    x_rate_limited: "X è sovraccarico in questo momento. Riprovi tra un quarto d'ora.",
    x_suspended: "Questo account è sospeso dall'amministratore.",
    x_off: "Questo ponte non verifica con X.",
  },
  pt: {
    xverifyTitle: "Verificar com o X",
    xverifyButton: "Verificar com o X",
    xverifyIntro:
      "Qualquer pessoa pode escrever um arquivo, por isso a sua conta do X é só uma declaração. Entre no X uma vez e o próprio X a confirma: a sua declaração passa então à frente de qualquer outra.",
    xverifyDone: "O X confirmou que esta conta do X é sua.",
    xverifyFailed: "Não foi possível começar a verificação com o X: {reason}",
    x_verified: "O X confirmou a sua conta: a sua reivindicação está verificada.",
    x_denied: "Você recusou no X, então nada mudou.",
    x_invalid: "Esta resposta do X não pertence a esta página. Tente de novo.",
    x_expired: "A verificação demorou demais. Tente de novo.",
    x_failed: "O X não confirmou a sua conta. Tente de novo mais tarde.",
    x_rate_limited: "O X está sobrecarregado agora. Tente de novo daqui a um quarto de hora.",
    x_suspended: "Esta conta está suspensa pelo administrador.",
    x_off: "Esta ponte não verifica com o X.",
  },
  nl: {
    xverifyTitle: "Bevestigen met X",
    xverifyButton: "Bevestigen met X",
    xverifyIntro:
      "Iedereen kan een archief schrijven, dus uw X-account is alleen een bewering. Meld u één keer aan bij X en X zelf bevestigt die: uw bewering gaat dan voor elke andere.",
    xverifyDone: "X heeft bevestigd dat dit X-account van u is.",
    xverifyFailed: "Bevestigen met X kon niet beginnen: {reason}",
    x_verified: "X heeft uw account bevestigd: uw claim is bevestigd.",
    x_denied: "U hebt bij X geweigerd, dus er is niets veranderd.",
    x_invalid: "Dit antwoord van X hoort niet bij deze pagina. Probeer het opnieuw.",
    x_expired: "Het bevestigen duurde te lang. Probeer het opnieuw.",
    x_failed: "X heeft uw account niet bevestigd. Probeer het later opnieuw.",
    x_rate_limited: "X is nu overbelast. Probeer het over een kwartier opnieuw.",
    x_suspended: "Dit account is door de beheerder geschorst.",
    x_off: "Deze brug bevestigt niet met X.",
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
  const r = await postPage("/link/x/start", err, $("xverify-btn"));
  if (!r) return;
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
  $("leave-btn").addEventListener("click", () => {
    $("leave-sure").hidden = false;
    $("leave-confirm").focus();
  });
  $("leave-confirm").addEventListener("click", leave);
  $("xverify-btn").addEventListener("click", verifyWithX);
  $("archive").hidden = false;
  $("consents").hidden = false;
  render();
  loadState();
}

start();
