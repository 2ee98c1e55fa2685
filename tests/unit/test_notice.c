/* Unit tests for server/reconnect/notice.c: the message text in both languages, the cap, follow
 * links. */
#include <stdlib.h>
#include <string.h>

#include "notice.h"
#include "tap.h"

static const struct notice_member en = {
    .lang = "en",
    .actor = "https://b.example/users/bea",
    .bridge = "passerelle@bridge.example",
    .base_url = "https://bridge.example",
    .has_grant = 0,
};

static void
test_follow_link(void)
{
    char *l = notice_follow_link("https://b.example/users/bea", "https://a.example/users/al~x_1");

    is_str(l,
           "https://b.example/authorize_interaction?uri=https%3A%2F%2Fa.example%2Fusers%2Fal~x_1",
           "follow link: the member's origin, the target percent-encoded (unreserved kept)");
    free(l);
    l = notice_follow_link("http://127.0.0.1:8081/users/bea", "http://x/?a=1&b=2 #");
    is_str(
        l,
        "http://127.0.0.1:8081/authorize_interaction?uri=http%3A%2F%2Fx%2F%3Fa%3D1%26b%3D2%20%23",
        "follow link: http and a port kept (tests), & = space # escaped");
    free(l);
    l = notice_follow_link("https://b.example", "https://a.example/u");
    is_str(l, "https://b.example/authorize_interaction?uri=https%3A%2F%2Fa.example%2Fu",
           "follow link: an actor URL without a path");
    free(l);
    ok(notice_follow_link("acct:bea@b.example", "https://a.example/u") == NULL,
       "follow link: not an http(s) actor");
    ok(notice_follow_link("https:///x", "https://a.example/u") == NULL, "follow link: no host");
    ok(notice_follow_link(NULL, "https://a.example/u") == NULL, "follow link: NULL");
}

static void
test_text_en(void)
{
    struct notice_item items[3] = {
        { .acct = "al@a.example", .actor = "https://a.example/users/al", .x_handle = "al_x" },
        { .acct = "cy@c.example",
          .actor = "https://c.example/users/cy",
          .x_handle = "cy_x",
          .automatic = 1,
          .done = 1 },
        { .acct = "di@d.example",
          .actor = "https://d.example/users/di",
          .x_handle = "di_x",
          .automatic = 1,
          .held = 1,
          .hold_until = "2030-01-02 03:04" },
    };
    char *t = notice_text(&en, items, 3, 3);

    is_str(t,
           "3 people you followed on X are on the fediverse now:\n"
           "\n- @al_x on X is @al@a.example now. Follow: "
           "https://b.example/authorize_interaction?uri=https%3A%2F%2Fa.example%2Fusers%2Fal"
           "\n- @cy_x on X is @cy@c.example now. Your server followed them for you."
           "\n- @di_x on X is claimed by @di@d.example, who arrived recently. The automatic follow "
           "waits until 2030-01-02 03:04 UTC. If that is not the person you knew, send \"report "
           "@di@d.example\" to @passerelle@bridge.example. Connect your server on your link page "
           "and it will follow them for you."
           "\n\nAutomatic follows are made by your own server in your name: to undo one, unfollow "
           "the account; to stop them, turn off automatic follows on your link page or send me "
           "\"pause\".",
           "English: a link, a follow made, a held claim with report and the undo footer");
    free(t);
}

static void
test_text_variants(void)
{
    struct notice_member m = en;
    struct notice_item one = { .acct = "al@a.example", .actor = "https://a.example/u/al" };
    struct notice_item soon = { .acct = "al@a.example",
                                .actor = "https://a.example/u/al",
                                .automatic = 1 };
    struct notice_item held_link = { .acct = "al@a.example",
                                     .actor = "https://a.example/u/al",
                                     .x_handle = "al_x",
                                     .held = 1,
                                     .hold_until = "2030-01-02 03:04" };
    char *t;

    t = notice_text(&m, &one, 1, 1);
    is_str(t,
           "Someone you followed on X is on the fediverse now:\n"
           "\n- An account you followed on X is @al@a.example now. Follow: "
           "https://b.example/authorize_interaction?uri=https%3A%2F%2Fa.example%2Fu%2Fal",
           "one person, no X handle, no footer without an automatic follow");
    free(t);
    m.has_grant = 1;
    t = notice_text(&m, &soon, 1, 1);
    ok(strstr(t, "Your server will follow them for you shortly.") != NULL,
       "automatic with a grant: shortly");
    ok(strstr(t, "Connect your server") == NULL, "with a grant: no connect");
    free(t);
    t = notice_text(&m, &held_link, 1, 1);
    ok(strstr(t, "claimed by @al@a.example") != NULL && strstr(t, "report @al@a.example") != NULL &&
           strstr(t, "Follow: https://b.example/authorize_interaction?uri=") != NULL &&
           strstr(t, "automatic follow waits") == NULL,
       "a held notice row: who claims it, how to report, the link, no automatic wording");
    free(t);
    t = notice_text(&m, &one, 1, 25);
    ok(strncmp(t, "25 people you followed on X", 27) == 0, "the header counts every row");
    ok(strstr(t, "\n\n...and 24 more: https://bridge.example/me/following.csv has them all") !=
           NULL,
       "the rest counted, with the CSV");
    free(t);
}

/* A contact on Bluesky whom no bridge brings to the fediverse: where to find them, no follow link.
 */
static void
test_text_bluesky(void)
{
    struct notice_member m = en;
    struct notice_item it = { .acct = "al.bsky.social",
                              .actor = "",
                              .x_handle = "al_x",
                              .bluesky = "https://bsky.app/profile/al.bsky.social" };
    char *t = notice_text(&m, &it, 1, 1);

    is_str(t,
           "Someone you followed on X is on the fediverse now:\n"
           "\n- @al_x on X is @al.bsky.social now. They are on Bluesky, not bridged to the "
           "fediverse yet: https://bsky.app/profile/al.bsky.social",
           "a Bluesky contact without a bridge: their profile, no follow link");
    free(t);
    m.lang = "fr";
    t = notice_text(&m, &it, 1, 1);
    ok(strstr(t, "pas encore reliée au fédivers : https://bsky.app/profile/al.bsky.social") != NULL,
       "in the member's language");
    free(t);
}

/* A Bluesky member's fediverse contact bridged to Bluesky: followed there, soon, or to follow. */
static void
test_text_bridged(void)
{
    struct notice_member m = en;
    struct notice_item it = { .acct = "gi.social.example.ap.brid.gy",
                              .actor = "https://social.example/users/gi",
                              .x_handle = "gi_x",
                              .bridged = "https://bsky.app/profile/gi.social.example.ap.brid.gy",
                              .bridged_auto = 1,
                              .bridged_done = 1 };
    char *t;

    m.actor = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    t = notice_text(&m, &it, 1, 1);
    is_str(t,
           "Someone you followed on X is on the fediverse now:\n"
           "\n- @gi_x on X is @gi.social.example.ap.brid.gy now. They are on the fediverse; you "
           "follow them on Bluesky now, through their account bridged by Bridgy Fed: "
           "https://bsky.app/profile/gi.social.example.ap.brid.gy",
           "followed through the bridge: said, with the bridged profile");
    free(t);
    it.bridged_done = 0;
    t = notice_text(&m, &it, 1, 1);
    ok(strstr(t, "they will be followed for you on Bluesky shortly") != NULL, "soon");
    free(t);
    it.bridged_auto = 0;
    t = notice_text(&m, &it, 1, 1);
    ok(strstr(t, "They are on the fediverse, bridged to Bluesky by Bridgy Fed: "
                 "https://bsky.app/profile/gi.social.example.ap.brid.gy") != NULL &&
           strstr(t, "Your server") == NULL,
       "no automatic follows: where to follow them on Bluesky");
    free(t);
    m.lang = "de";
    t = notice_text(&m, &it, 1, 1);
    ok(strstr(t, "über Bridgy Fed mit Bluesky verbunden") != NULL, "in the member's language");
    free(t);
    /* Not bridged: where they are on the fediverse, as the other way round (on_bluesky). */
    m.lang = "en";
    it.acct = "gi@social.example";
    it.bridged = NULL;
    it.fediverse = "https://social.example/users/gi";
    t = notice_text(&m, &it, 1, 1);
    ok(strstr(t, "@gi_x on X is @gi@social.example now. They are on the fediverse, not bridged "
                 "to Bluesky yet: https://social.example/users/gi") != NULL,
       "not bridged: their fediverse address and where to see them");
    free(t);
}

/* A Bluesky member's message speaks Bluesky: followed in their repository, soon, or to follow. */
static void
test_text_bsky_member(void)
{
    struct notice_member m = en;
    struct notice_item items[3] = {
        { .acct = "al.bsky.social",
          .actor = "",
          .x_handle = "al_x",
          .automatic = 1,
          .done = 1,
          .profile = "https://bsky.app/profile/al.bsky.social" },
        { .acct = "bo.bsky.social",
          .actor = "",
          .x_handle = "bo_x",
          .automatic = 1,
          .profile = "https://bsky.app/profile/bo.bsky.social" },
        { .acct = "cy.bsky.social",
          .actor = "",
          .x_handle = "cy_x",
          .automatic = 1,
          .held = 1,
          .hold_until = "2030-01-02 03:04",
          .profile = "https://bsky.app/profile/cy.bsky.social" },
    };
    char *t;

    m.actor = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    m.bluesky = 1;
    m.has_grant = 1;
    t = notice_text(&m, items, 3, 4);
    is_str(t,
           "4 people you followed on X are on Bluesky or the fediverse now:\n"
           "\n- @al_x on X is @al.bsky.social now. You follow them on Bluesky now, followed in "
           "your name: https://bsky.app/profile/al.bsky.social"
           "\n- @bo_x on X is @bo.bsky.social now. They will be followed on Bluesky in your name "
           "shortly: https://bsky.app/profile/bo.bsky.social"
           "\n- @cy_x on X is claimed by @cy.bsky.social, who arrived recently. The automatic "
           "follow waits until 2030-01-02 03:04 UTC. If that is not the person you knew, ignore "
           "them on your passerelle page (https://bridge.example): nothing will be done toward "
           "them. Their Bluesky profile: https://bsky.app/profile/cy.bsky.social"
           "\n\n...and 1 more: your passerelle page lists them all (https://bridge.example)."
           "\n\nAutomatic follows are written in your Bluesky account in your name: to undo one, "
           "press \"Undo the follow\" beside it on your passerelle page, or unfollow the account "
           "in your Bluesky app; to stop them, turn off automatic follows on your passerelle page.",
           "Bluesky member: followed, soon, held; no server, no command, no CSV");
    free(t);
    t = notice_text(&m, items, 1, 1);
    ok(strncmp(t, "Someone you followed on X is on Bluesky or the fediverse now:", 61) == 0,
       "one: the Bluesky header");
    free(t);
    m.has_grant = 0;
    t = notice_text(&m, items + 1, 1, 1);
    ok(strstr(t, "Sign in with Bluesky again on https://bridge.example and passerelle will "
                 "follow them in your name: https://bsky.app/profile/bo.bsky.social") != NULL,
       "no grant: sign in again");
    free(t);
    items[1].automatic = 0;
    t = notice_text(&m, items + 1, 1, 1);
    ok(strstr(t, "Follow them on Bluesky: https://bsky.app/profile/bo.bsky.social") != NULL &&
           strstr(t, "Automatic follows") == NULL && strstr(t, "server") == NULL,
       "no automatic follows: their profile to follow, no footer");
    free(t);
    /* A fediverse contact followed through the bridge: the Bluesky footer too. */
    {
        struct notice_item br = { .acct = "gi.social.example.ap.brid.gy",
                                  .actor = "https://social.example/users/gi",
                                  .x_handle = "gi_x",
                                  .bridged =
                                      "https://bsky.app/profile/gi.social.example.ap.brid.gy",
                                  .bridged_auto = 1 };

        t = notice_text(&m, &br, 1, 1);
        ok(strstr(t, "\n\nAutomatic follows are written in your Bluesky account") != NULL,
           "through the bridge: the Bluesky footer");
        free(t);
    }
    m.lang = "fr";
    items[1].automatic = 1;
    m.has_grant = 1;
    t = notice_text(&m, items, 2, 2);
    ok(strncmp(t, "2 personnes que vous suiviez sur X sont maintenant sur Bluesky ou le fédivers",
               77) == 0 &&
           strstr(t, "Vous la suivez maintenant sur Bluesky, suivie en votre nom : "
                     "https://bsky.app/profile/al.bsky.social") != NULL,
       "in the member's language");
    free(t);
}

static void
test_text_fr(void)
{
    struct notice_member m = en;
    struct notice_item items[2] = {
        { .acct = "al@a.example",
          .actor = "https://a.example/u/al",
          .x_handle = "al_x",
          .automatic = 1,
          .held = 1,
          .hold_until = "2030-01-02 03:04" },
        { .acct = "bo@b.example", .actor = "https://b.example/u/bo", .x_handle = "bo_x" },
    };
    char *t;

    m.lang = "fr";
    t = notice_text(&m, items, 2, 30);
    is_str(t,
           "30 personnes que vous suiviez sur X sont maintenant sur le fédivers :\n"
           "\n- @al_x sur X est revendiqué par @al@a.example, arrivé récemment. Le suivi "
           "automatique attend jusqu'au 2030-01-02 03:04 UTC. Si ce n'est pas la personne que "
           "vous connaissiez, envoyez « signaler @al@a.example » à @passerelle@bridge.example. "
           "Connectez votre serveur sur votre page de lien et il le suivra pour vous."
           "\n- @bo_x sur X est maintenant @bo@b.example. Suivre : "
           "https://b.example/authorize_interaction?uri=https%3A%2F%2Fb.example%2Fu%2Fbo"
           "\n\n... et 28 de plus : https://bridge.example/me/following.csv les contient tous, au "
           "format que votre serveur importe (Préférences > Importer et exporter) ; ouvrez "
           "d'abord votre page de lien (envoyez-moi « lien » pour en avoir un nouveau)."
           "\n\nLes suivis automatiques sont faits par votre propre serveur en votre nom : pour "
           "en annuler un, cessez de suivre le compte ; pour les arrêter, désactivez-les sur "
           "votre page de lien ou envoyez-moi « pause ».",
           "French, with the rest counted and the footer");
    free(t);
    m.lang = "de";
    t = notice_text(&m, items + 1, 1, 1);
    ok(strncmp(t, "Jemand, dem Sie auf X folgten", 29) == 0, "German");
    free(t);
    m.lang = "sv"; /* no catalogue */
    t = notice_text(&m, items + 1, 1, 1);
    ok(strncmp(t, "Someone you followed", 20) == 0, "another language: English");
    free(t);
}

static void
test_text_data_not_format(void)
{
    struct notice_item it = { .acct = "%s%n@a.example",
                              .actor = "https://a.example/u",
                              .x_handle = "%s" };
    char *t = notice_text(&en, &it, 1, 1);

    ok(strstr(t, "@%s on X is @%s%n@a.example now.") != NULL, "names are copied, never formats");
    free(t);
}

static void
test_came_back(void)
{
    struct notice_member m = en;
    struct notice_item one = { .acct = "al@a.example", .actor = "https://a.example/u/al" };
    char *t;

    m.back_here = 12;
    m.back_again = 9;
    t = notice_text(&m, &one, 1, 1);
    ok(strstr(t, "former X followers") == NULL, "came back: nothing without news");
    free(t);
    m.back_news = 1;
    t = notice_text(&m, NULL, 0, 0);
    is_str(t,
           "12 of your former X followers are here. 9 of them follow you again. Your link page "
           "lists them.",
           "came back alone: no list, no header");
    free(t);
    t = notice_text(&m, &one, 1, 1);
    ok(strncmp(t, "Someone you followed on X", 25) == 0 &&
           strstr(t, "\n\n12 of your former X followers are here.") != NULL,
       "came back after the arrivals, a paragraph of its own");
    free(t);
    m.back_here = 1;
    m.back_again = 0;
    m.lang = "fr";
    t = notice_text(&m, NULL, 0, 0);
    is_str(t, "Une personne qui vous suivait sur X est ici. Votre page de lien les énumère.",
           "one came back, nobody follows again yet, in French");
    free(t);
}

int
main(void)
{
    test_came_back();
    test_follow_link();
    test_text_en();
    test_text_variants();
    test_text_bluesky();
    test_text_bridged();
    test_text_bsky_member();
    test_text_fr();
    test_text_data_not_format();
    return done_testing();
}
